"""My Number Card (マイナンバーカード) over PC/SC: a simulated JPKI authority, virtual cards, a JPKI
client and verification of what a card sends.

Only :mod:`card_reader.pcsc` imports pyscard; nothing here imports Flask.
"""
