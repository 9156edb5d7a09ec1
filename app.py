"""Trellis in the browser: `streamlit run app.py -- --db trellis.lake`.

The pages, and the frame they run in (navigation, sign-in, who is acting), are in pages/: see pages/__init__.py.
"""

import pages

pages.run()
