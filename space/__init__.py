"""The Space (installed as `avemo.space`): `app.py` is the Gradio app, `export.py` writes a deployable Space folder.

Nothing here imports Gradio until the app is built, so `avemo space --export` works without it.
"""
