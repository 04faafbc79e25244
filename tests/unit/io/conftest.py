from pathlib import Path

import pytest

EXPORTS = Path(__file__).resolve().parents[2] / "fixtures" / "exports"


@pytest.fixture
def exports() -> Path:
    return EXPORTS
