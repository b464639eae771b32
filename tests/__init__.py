import pytest

# The shared helpers assert too: rewrite them as pytest rewrites test modules, so a failing
# helper shows its values (registered here, before any conftest.py imports them).
pytest.register_assert_rewrite("tests.support")
