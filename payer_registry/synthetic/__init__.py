"""The synthetic population (合成人口): plausible, deterministic people, payers and histories.

Never generates an Individual Number (マイナンバー)."""

from payer_registry.synthetic.batch import TABLE_COLUMNS, Batch, batch_specs, generate_batch
from payer_registry.synthetic.insurers import insurer_rows

__all__ = [
    "TABLE_COLUMNS",
    "Batch",
    "batch_specs",
    "generate_batch",
    "insurer_rows",
]
