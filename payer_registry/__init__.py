"""The simulated payers' registry (保険者の資格情報): insured persons, qualifications and medical records."""
