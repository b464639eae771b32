"""Helpers shared by test modules, one module per concept. Test modules import from here, never
from each other or from a conftest.py (tests/test_test_layout.py checks); fixtures stay in the
conftest.py files, which import from here too."""
