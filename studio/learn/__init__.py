"""Learning the synth (flax + optax): a neural proxy (θ → perceptual embedding), an inverse model (sound → θ) and
their checkpoints; the matcher and prompt search use them when they are present (:mod:`.models`).

``learn`` never imports ``search`` (the search imports ``learn``). Modules: :mod:`.data` (training data rendered
on the fly from seeds), :mod:`.nets` (the network and its training loop), :mod:`.proxy`, :mod:`.inverse`,
:mod:`.clap_proxy`, :mod:`.checkpoint` (the file format), :mod:`.models` (the shipped models, loaded lazily),
:mod:`.train` (the reproducible recipes) and :mod:`.cli` (``python -m studio learn …``).
"""
