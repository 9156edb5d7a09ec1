"""Custom Streamlit components of the pages: each a folder with its HTML, CSS and JS, all inline (no network)."""
