"""The use-case layer, without Flask: accounts and keys, card sessions and proof, visits, consent (all
its rules in ``consent``), the audit log, checks by numbers, batches, payer uploads and jobs.

Use cases take a ``ServiceContext`` and raise ``ServiceError`` with a stable code; the HTTP layers map
those codes to statuses. The service's tables live in ``models`` beside the payers' registry tables,
under one migration history."""
