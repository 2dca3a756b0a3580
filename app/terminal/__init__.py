"""The eligibility terminal's file interface (資格確認端末の外部インターフェイス): front-desk software
writes request XML files into a folder and reads result files from another, as with the real
terminal. ``answers`` holds the messages over the use cases (no files); ``folders`` carries them
through folders; ``requests``, ``results``, ``values`` and ``xmlcodec`` read and write the XML."""
