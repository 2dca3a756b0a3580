"""The synthetic population (合成人口): plausible, deterministic people, payers and histories.

Never generates an Individual Number (マイナンバー)."""

from payer_registry.synthetic.batch import (
    BATCH_PERSONS,
    TABLE_COLUMNS,
    Batch,
    BatchSpec,
    batch_specs,
    generate_batch,
)
from payer_registry.synthetic.insurers import insurer_rows

__all__ = [
    "BATCH_PERSONS",
    "TABLE_COLUMNS",
    "Batch",
    "BatchSpec",
    "batch_specs",
    "generate_batch",
    "insurer_rows",
]
