import pytest

pytestmark = pytest.mark.chaos


def test_x():
    pass
