"""The front-desk page (``/``) and the patient page (``/patient``), and the reader station their
card steps go through (``app.frontdesk.station``): a thin HTTP layer over the use cases."""
