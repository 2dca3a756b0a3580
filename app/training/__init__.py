"""Training and the demo: named scenario people with cards in every state a front desk meets, the
demo clinic with its key and cards, and the scripted demo visit. They compose all three parts."""
