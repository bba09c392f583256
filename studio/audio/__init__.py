"""Audio analysis and I/O: WAV files, int16 for Gradio, log-mel spectrograms, per-sound features, and the
perceptual embedding and distance (``embedding``). Every analysis is built on one front end (``frontend``).

Audio inside the studio is float32 mono in [−1, 1]; batches are ``[B, T]``. This package imports nothing from
the studio except the synth's types and ``studio.errors``.
"""
from .embedding import perceptual_distance, perceptual_embedding, perceptual_similarity
from .features import (SoundFeatures, SpectrogramConfig, level_envelope_db, log_mel_distance, log_mel_spectrogram,
                       mel_filterbank, sound_features)
from .io import read_wav, to_int16, write_wav

__all__ = ["SoundFeatures", "SpectrogramConfig", "level_envelope_db", "log_mel_distance", "log_mel_spectrogram",
           "mel_filterbank", "perceptual_distance", "perceptual_embedding", "perceptual_similarity", "read_wav",
           "sound_features", "to_int16", "write_wav"]
