"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "insurers",
        sa.Column("number", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_insurers")),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("income_category", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    op.create_table(
        "card_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("cert_issuer", sa.String(length=300), nullable=False),
        sa.Column("cert_serial", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_card_links_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_links")),
    )
    with op.batch_alter_table("card_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_links_certificate", ["cert_serial", "cert_issuer"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_card_links_person_id"), ["person_id"], unique=False)

    op.create_table(
        "checkups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("examined_on", sa.Date(), nullable=False),
        sa.Column("institution_name", sa.String(length=100), nullable=False),
        sa.Column("height", sa.Float(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("bmi", sa.Float(), nullable=True),
        sa.Column("waist", sa.Float(), nullable=True),
        sa.Column("systolic_bp", sa.Integer(), nullable=True),
        sa.Column("diastolic_bp", sa.Integer(), nullable=True),
        sa.Column("triglycerides", sa.Integer(), nullable=True),
        sa.Column("hdl", sa.Integer(), nullable=True),
        sa.Column("ldl", sa.Integer(), nullable=True),
        sa.Column("ast", sa.Integer(), nullable=True),
        sa.Column("alt", sa.Integer(), nullable=True),
        sa.Column("gamma_gt", sa.Integer(), nullable=True),
        sa.Column("fasting_glucose", sa.Integer(), nullable=True),
        sa.Column("hba1c", sa.Float(), nullable=True),
        sa.Column("egfr", sa.Float(), nullable=True),
        sa.Column("urine_glucose", sa.String(length=2), nullable=True),
        sa.Column("urine_protein", sa.String(length=2), nullable=True),
        sa.Column("haemoglobin", sa.Float(), nullable=True),
        sa.Column("metabolic_judgement", sa.String(length=1), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_checkups_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkups")),
    )
    with op.batch_alter_table("checkups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkups_person_id"), ["person_id"], unique=False)

    op.create_table(
        "elderly_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("copay_ratio", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_elderly_certificates_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elderly_certificates")),
    )
    with op.batch_alter_table("elderly_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_elderly_certificates_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "limit_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("classification", sa.String(length=2), nullable=False),
        sa.Column("bracket_code", sa.String(length=3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_limit_certificates_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_certificates")),
    )
    with op.batch_alter_table("limit_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_limit_certificates_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "medications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("dispensed_on", sa.Date(), nullable=False),
        sa.Column("prescribed_on", sa.Date(), nullable=False),
        sa.Column("drug_code", sa.String(length=12), nullable=False),
        sa.Column("drug_name", sa.String(length=100), nullable=False),
        sa.Column("ingredient", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("usage", sa.String(length=60), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("dispenser_code", sa.String(length=10), nullable=False),
        sa.Column("dispenser_name", sa.String(length=100), nullable=False),
        sa.Column("prescriber_code", sa.String(length=10), nullable=False),
        sa.Column("prescriber_name", sa.String(length=100), nullable=False),
        sa.Column("in_house", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_medications_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medications")),
    )
    with op.batch_alter_table("medications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medications_person_id"), ["person_id"], unique=False)

    op.create_table(
        "procedure_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("procedure_code", sa.String(length=12), nullable=False),
        sa.Column("procedure_name", sa.String(length=100), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("institution_name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_procedure_records_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_records")),
    )
    with op.batch_alter_table("procedure_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_procedure_records_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "qualifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("insured_number", sa.String(length=60), nullable=False),
        sa.Column("insurer_number", sa.String(length=8), nullable=False),
        sa.Column("relationship", sa.String(length=6), nullable=False),
        sa.Column("card_classification", sa.String(length=2), nullable=False),
        sa.Column("insured_name", sa.String(length=100), nullable=False),
        sa.Column("acquired_on", sa.Date(), nullable=False),
        sa.Column("lost_on", sa.Date(), nullable=True),
        sa.Column("loss_reason", sa.String(length=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["insurer_number"],
            ["insurers.number"],
            name=op.f("fk_qualifications_insurer_number_insurers"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_qualifications_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qualifications")),
        sa.UniqueConstraint("insured_number", name=op.f("uq_qualifications_insured_number")),
    )
    with op.batch_alter_table("qualifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qualifications_insurer_number"), ["insurer_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_qualifications_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "specific_disease_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=1), nullable=False),
        sa.Column("self_pay_limit", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_specific_disease_certificates_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specific_disease_certificates")),
    )
    with op.batch_alter_table("specific_disease_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_specific_disease_certificates_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("specific_disease_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_specific_disease_certificates_person_id"))

    op.drop_table("specific_disease_certificates")
    with op.batch_alter_table("qualifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qualifications_person_id"))
        batch_op.drop_index(batch_op.f("ix_qualifications_insurer_number"))

    op.drop_table("qualifications")
    with op.batch_alter_table("procedure_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_records_person_id"))

    op.drop_table("procedure_records")
    with op.batch_alter_table("medications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medications_person_id"))

    op.drop_table("medications")
    with op.batch_alter_table("limit_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_limit_certificates_person_id"))

    op.drop_table("limit_certificates")
    with op.batch_alter_table("elderly_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_elderly_certificates_person_id"))

    op.drop_table("elderly_certificates")
    with op.batch_alter_table("checkups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkups_person_id"))

    op.drop_table("checkups")
    with op.batch_alter_table("card_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_links_person_id"))
        batch_op.drop_index("ix_card_links_certificate")

    op.drop_table("card_links")
    op.drop_table("persons")
    op.drop_table("insurers")
