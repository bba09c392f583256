"""The studio's Gradio interface: one module per panel, wiring only (``studio.ui.app`` builds and serves it).

Importing this package imports no Gradio; ``studio.ui.state`` and ``studio.ui.views`` work without it.
"""
