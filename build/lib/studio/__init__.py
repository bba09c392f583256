"""The synth sketch studio: type a prompt, hear a real 78-knob synthesizer play it."""
__version__ = "0.1.0"
