import pytest

# Show the values in failed checks of the shared helpers.
pytest.register_assert_rewrite("tests.campaigns.helpers")
