"""The CLAP scorer: cosine similarity between LAION-CLAP's embeddings of the audio and of the prompt (CTAG).

LAION-CLAP runs through ``transformers`` (``ClapModel``; the ``laion-clap`` package pins numpy < 2, so the
studio does not use it; README, "Type a prompt"). The weights come from ``--clap-model`` /
``$SYNTH_STUDIO_CLAP`` (a Hub id or a local folder), default ``laion/clap-htsat-unfused`` (also
``laion/larger_clap_general``); they are loaded once per process, on
CUDA when torch sees a GPU. Audio is judged the way CLAP was trained on short clips: 48 kHz mono (resampled
if the synth renders at another rate), repeated to fill 10 s (a 2 s sound five times, ``padding="repeatpad"``),
a 64-band log-mel spectrogram, then the audio tower; clips longer than 10 s are cut to their first 10 s (so
no random crop). Both embeddings are L2-normalized, so their dot product is the cosine similarity. Text
embeddings are cached per prompt.

The log-mel spectrogram is computed in torch on the model's device (:func:`clap_log_mel`), equal to
``ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")`` (tested) but ~10× faster and without a
host round trip; ``features="extractor"`` uses the extractor itself.

The audio tower runs under bfloat16 autocast where the hardware computes in bfloat16 natively (CPUs with
AVX512-BF16 or AMX, CUDA GPUs with bf16): about 1.5× faster on this project's CPU, with embeddings whose cosine
to the float32 ones stays above 0.9999 (tested). ``$SYNTH_STUDIO_CLAP_PRECISION`` (``auto``, ``fp32``, ``bf16``)
or the ``precision`` argument overrides the choice. Text embeddings are always computed in float32.

Where the towers run (:mod:`studio.hosting`): every judgement (:meth:`ClapScorer.score`, :meth:`ClapScorer.embed`)
goes through one device call per chunk of clips, ``@spaces.GPU`` on a ZeroGPU Space (chunks of at most
``ZERO_GPU_CLIPS_PER_CALL`` clips, numpy arguments, since the call runs in a forked worker) and a plain call
everywhere else (the whole batch at once; a JAX array is handed to torch through DLPack, on the GPU when both run
there, with no host round trip).

Semantic quality needs the real weights. A model with random weights (tests, benchmarks) runs the same
code path; its scores mean nothing and the scorer says so (``semantic=False``).
"""
from __future__ import annotations

import itertools
import os
import weakref
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

from studio.hosting import ZERO_GPU_CALL_S, ZERO_GPU_CLIPS_PER_CALL, gpu, zero_gpu

from .base import ScorerUnavailable, check_prompt

DEFAULT_MODEL = "laion/clap-htsat-unfused"
KNOWN_MODELS = ("laion/clap-htsat-unfused", "laion/larger_clap_general")
MODEL_ENV = "SYNTH_STUDIO_CLAP"
PRECISION_ENV = "SYNTH_STUDIO_CLAP_PRECISION"
PRECISIONS = ("auto", "fp32", "bf16")
CLAP_SAMPLE_RATE = 48_000
CLAP_SECONDS = 10
TEXT_CACHE_SIZE = 256
MEL_FLOOR = 1e-10  # the extractor's floor before log10


def clap_source(explicit: str | None = None) -> str:
    """Where the CLAP weights come from: the explicit value, else ``$SYNTH_STUDIO_CLAP``, else the default id."""
    return explicit or os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def resolve_device(device: str | None = None) -> str:
    """"cuda" when torch sees a GPU (or when asked and available), else "cpu"; ScorerUnavailable otherwise."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ScorerUnavailable(f"device {device!r} was asked for CLAP but torch sees no CUDA GPU here")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ScorerUnavailable(f"unknown device {device!r} for CLAP: use cpu or cuda")
    return device


def native_bf16(device: str) -> bool:
    """Whether ``device`` ("cpu" or "cuda…") computes bfloat16 matrix products natively (fast, not emulated)."""
    import torch

    if device.startswith("cuda"):
        if zero_gpu():  # ZeroGPU lends H200 (and A100-class) slices, all bf16-native; outside a call CUDA is a stub
            return True
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())  # oneDNN: AVX512-BF16 / AMX present
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str | None, device: str) -> str:
    """"fp32" or "bf16" for the audio tower: the explicit value, else ``$SYNTH_STUDIO_CLAP_PRECISION``, else
    "auto" (bf16 where :func:`native_bf16`); ``ScorerUnavailable`` for an unknown name."""
    chosen = (precision or os.environ.get(PRECISION_ENV) or "auto").strip().lower()
    if chosen not in PRECISIONS:
        raise ScorerUnavailable(f"unknown CLAP precision {chosen!r} (from {PRECISION_ENV} or the precision "
                                f"argument): use one of {', '.join(PRECISIONS)}")
    if chosen == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return chosen


# ----------------------------------------------------------------------------------------------
# Audio → CLAP input
# ----------------------------------------------------------------------------------------------
def repeat_pad(audio, max_samples: int):
    """Audio ``[B, T]`` (torch) → ``[B, max_samples]``: repeated ⌊max/T⌋ times then zero-padded (CLAP's
    "repeatpad"); clips longer than ``max_samples`` keep their first ``max_samples`` samples."""
    import torch

    length = audio.shape[-1]
    if length >= max_samples:
        return audio[..., :max_samples]
    repeated = audio.repeat(1, max_samples // length)
    return torch.nn.functional.pad(repeated, (0, max_samples - repeated.shape[-1]))


def clap_log_mel(audio, mel_filters, n_fft: int = 1024, hop: int = 480):
    """CLAP's input features in torch: audio ``[B, T]`` (48 kHz, already repeat-padded) → ``[B, 1, F, M]`` dB.

    Same as ClapFeatureExtractor's unfused path: centred frames (reflect padding), periodic Hann window,
    power spectrum, mel filters ``[n_fft // 2 + 1, M]`` (slaney), floor 1e-10, 10·log10. ``F = 1 + T // hop``.
    """
    import torch

    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float32, device=audio.device)
    spectrum = torch.stft(audio.float(), n_fft, hop_length=hop, window=window, center=True, pad_mode="reflect",
                          return_complex=True)  # [B, K, F]
    power = spectrum.real ** 2 + spectrum.imag ** 2
    mel = torch.clamp(torch.einsum("bkf,km->bfm", power, mel_filters), min=MEL_FLOOR)
    return (10.0 * torch.log10(mel))[:, None]


def jax_to_torch(array):
    """A JAX array as a torch tensor on the same device, sharing its buffer (DLPack: no copy, no host round trip;
    a CUDA array becomes a CUDA tensor, a CPU array a CPU tensor). Raises what DLPack raises when it cannot."""
    import torch

    return torch.from_dlpack(array)


def _to_torch(audio, device: str):
    """Audio (JAX, numpy or torch) ``[B, T]`` → float32 torch tensor on ``device``, through DLPack where possible."""
    import torch

    if isinstance(audio, torch.Tensor):
        tensor = audio
    else:
        try:  # a JAX array hands its buffer over without a host round trip (GPU to GPU, or CPU to CPU)
            tensor = jax_to_torch(audio) if hasattr(audio, "__dlpack__") else torch.as_tensor(np.asarray(audio))
        except (RuntimeError, TypeError, BufferError):
            tensor = torch.as_tensor(np.asarray(audio))
    return tensor.to(device=device, dtype=torch.float32)


# ----------------------------------------------------------------------------------------------
# Device calls: on ZeroGPU each borrows the GPU (@spaces.GPU) in a forked worker, so it takes picklable arguments
# (a scorer's key, numpy audio, text) and returns numpy; elsewhere it is a plain call.
# ----------------------------------------------------------------------------------------------
_SCORERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # key → live ClapScorer
_KEYS = itertools.count(1)


@gpu(duration=ZERO_GPU_CALL_S)
def _device_judgement(key: int, audio, sample_rate: int, text: str | None) -> np.ndarray:
    """One device call: the clips' L2-normalized audio embeddings ``[B, P]`` (``text`` None), or their cosine
    similarities ``[B]`` to the text's embedding; float32 numpy either way."""
    scorer = _SCORERS[key]
    embeddings = scorer.audio_embeddings(audio, sample_rate)
    if text is not None:
        embeddings = embeddings @ scorer.text_embedding(text)
    return embeddings.float().cpu().numpy()


@gpu(duration=ZERO_GPU_CALL_S)
def _device_text(key: int, text: str) -> np.ndarray:
    """One device call: the prompt's L2-normalized text embedding ``[P]``, float32 numpy."""
    return _SCORERS[key].text_embedding(text).float().cpu().numpy()


class ClapScorer:
    """Scores audio against prompts with a loaded ``ClapModel`` (see the module docstring).

    model: a ``transformers.ClapModel``; tokenizer: its RoBERTa tokenizer; feature_extractor: a
    ``ClapFeatureExtractor`` (its mel filters and settings are used; truncation and padding are set to
    ``rand_trunc``/``repeatpad``). ``semantic``: False for random weights. ``batch_size``: clips per forward
    pass (default 8 on a CPU, 64 on a GPU). ``precision``: "fp32", "bf16" or "auto" (see the module
    docstring). ``clips_per_call``: clips per device call of :meth:`score` and :meth:`embed` (default
    ``ZERO_GPU_CLIPS_PER_CALL`` on ZeroGPU, else None: the whole batch in one call). Not thread-safe for
    concurrent calls on one GPU; share it behind a queue (the UI's concurrency limit).

    :meth:`score` and :meth:`embed` take audio on the host or the device and return numpy; they are what the
    searches use (and all that works on ZeroGPU). :meth:`audio_embeddings` and :meth:`text_embedding` return
    torch tensors on the model's device, for callers already on it.
    """

    name = "clap"
    score_floor = 0.0  # CTAG: similarities below 0 count as 0
    # Capabilities (see studio.scoring.base.Scorer)
    jittable = False  # a torch model: a search renders on the device and judges on the host
    score_range = (-1.0, 1.0)  # a cosine similarity
    explains_prompt = False  # CLAP reads the text itself; constraints add to its judgement, replace nothing
    budget_family = "slow"  # model inference per sound

    def __init__(self, model, tokenizer, feature_extractor, *, source: str, semantic: bool, reason: str = "",
                 device: str | None = None, batch_size: int | None = None, features: str = "torch",
                 precision: str | None = None, clips_per_call: int | None = None):
        import torch

        if getattr(model.config.audio_config, "enable_fusion", False):
            raise ScorerUnavailable(f"CLAP model {source} uses feature fusion, which the studio does not support; "
                                    f"use an unfused model such as {' or '.join(KNOWN_MODELS)}")
        if features not in ("torch", "extractor"):
            raise ValueError(f"features must be 'torch' or 'extractor', got {features!r}")
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor
        self.feature_extractor.truncation = "rand_trunc"  # unfused models reject fusion's 4-channel input
        self.feature_extractor.padding = "repeatpad"
        self.sample_rate = int(feature_extractor.sampling_rate)
        self.max_samples = int(feature_extractor.nb_max_samples)
        self.n_fft = int(feature_extractor.fft_window_size)
        self.hop = int(feature_extractor.hop_length)
        self.mel_filters = torch.as_tensor(np.asarray(feature_extractor.mel_filters_slaney, np.float32),
                                           device=self.device)
        self.features = features
        self.batch_size = batch_size or (64 if self.device.startswith("cuda") else 8)
        self.clips_per_call = clips_per_call or (ZERO_GPU_CLIPS_PER_CALL if zero_gpu() else None)
        self._key = next(_KEYS)
        _SCORERS[self._key] = self
        self.source = source
        self.semantic = semantic
        self.label = f"CLAP {Path(source).name if Path(source).is_dir() else source}" + (
            "" if semantic else " (random weights: scores are not meaningful)")
        self.reason = reason or (f"CLAP {source} on {self.device}" if semantic else
                                 f"CLAP {source} with random weights on {self.device}: scores are not meaningful")
        self.reason += f" ({'bfloat16' if self.precision == 'bf16' else 'float32'} audio tower)"
        self._text_cache: OrderedDict[str, object] = OrderedDict()
        config = model.config.text_config
        self._max_tokens = int(min(getattr(tokenizer, "model_max_length", 512) or 512,
                                   config.max_position_embeddings - 2))

    # -- text ------------------------------------------------------------------------------
    def text_embedding(self, prompt: str):
        """The prompt's L2-normalized embedding ``[P]`` (torch, on the model's device), cached per prompt (on the
        host: a cached tensor outlives the device a ZeroGPU call borrowed)."""
        import torch

        text = check_prompt(prompt)
        if text in self._text_cache:
            self._text_cache.move_to_end(text)
            return self._text_cache[text].to(self.device)
        tokens = self.tokenizer([text], padding=True, truncation=True, max_length=self._max_tokens,
                                return_tensors="pt").to(self.device)
        with torch.inference_mode():
            output = self.model.get_text_features(input_ids=tokens["input_ids"],
                                                  attention_mask=tokens.get("attention_mask"))
        embedding = torch.nn.functional.normalize(_pooled(output), dim=-1)[0]
        self._text_cache[text] = embedding.cpu()
        if len(self._text_cache) > TEXT_CACHE_SIZE:
            self._text_cache.popitem(last=False)
        return self._text_cache[text].to(self.device)

    # -- audio -----------------------------------------------------------------------------
    def input_features(self, audio, sample_rate: int):
        """Audio ``[B, T]`` at ``sample_rate`` → CLAP input ``[B, 1, F, 64]`` (torch, on the model's device)."""
        import torch

        if sample_rate != self.sample_rate:
            from studio.audio.resample import resample

            audio = resample(np.asarray(audio, np.float32), sample_rate, self.sample_rate)
        waveform = _to_torch(audio, self.device)
        if waveform.ndim == 1:
            waveform = waveform[None]
        if waveform.ndim != 2 or waveform.shape[-1] == 0:
            raise ValueError(f"audio must have shape [T] or [batch, T] with T > 0, got {list(waveform.shape)}")
        if self.features == "torch":
            return clap_log_mel(repeat_pad(waveform, self.max_samples), self.mel_filters, self.n_fft, self.hop)
        # The reference path: the extractor itself (numpy, float64), on clips cut to 10 s first (no random crop).
        clips = [row for row in waveform[:, :self.max_samples].cpu().numpy()]
        out = self.feature_extractor(clips, sampling_rate=self.sample_rate, return_tensors="pt")
        return out["input_features"].to(device=self.device, dtype=torch.float32)

    def audio_embeddings(self, audio, sample_rate: int):
        """L2-normalized audio embeddings ``[B, P]`` (torch, on the model's device), ``batch_size`` clips at a time."""
        import torch

        features = self.input_features(audio, sample_rate)
        chunks = []
        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        with torch.inference_mode(), torch.autocast(device_type, torch.bfloat16, enabled=self.precision == "bf16"):
            for start in range(0, features.shape[0], self.batch_size):
                part = features[start:start + self.batch_size]
                is_longer = torch.zeros((part.shape[0], 1), dtype=torch.bool, device=self.device)
                output = self.model.get_audio_features(input_features=part, is_longer=is_longer)
                chunks.append(torch.nn.functional.normalize(_pooled(output).float(), dim=-1))
        return torch.cat(chunks, dim=0)

    def score(self, audio, sample_rate: int, prompt: str) -> np.ndarray:
        """Cosine similarity ``[B]`` in [−1, 1] between each sound of ``audio [B, T]`` (host or device) and the
        prompt, float32 numpy; one device call per ``clips_per_call`` clips."""
        return self._judge(audio, sample_rate, check_prompt(prompt))

    def embed_text(self, prompt: str) -> np.ndarray:
        """The prompt's L2-normalized text embedding ``[P]`` float32 numpy, in a device call (cached per prompt)."""
        return _device_text(self._key, check_prompt(prompt))

    def embed(self, audio, sample_rate: int) -> np.ndarray:
        """L2-normalized audio embeddings ``[B, P]`` float32 numpy of ``audio [B, T]`` (host or device); one device
        call per ``clips_per_call`` clips."""
        return self._judge(audio, sample_rate, None)

    def _judge(self, audio, sample_rate: int, text: str | None) -> np.ndarray:
        if zero_gpu():  # the call's arguments travel to a forked worker by pickle: host arrays only
            audio = np.asarray(audio, np.float32)
        if getattr(audio, "ndim", 2) == 1:
            audio = audio[None]
        step = self.clips_per_call or audio.shape[0]
        parts = [_device_judgement(self._key, audio[start:start + step], int(sample_rate), text)
                 for start in range(0, max(1, audio.shape[0]), max(1, step))]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _pooled(output):
    """The projected embedding of a ``get_*_features`` result (an output object in transformers 5, a tensor before)."""
    return output.pooler_output if hasattr(output, "pooler_output") else output


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 240 else text[:237] + "…"


def load_clap(source: str | None = None, device: str | None = None, batch_size: int | None = None,
              precision: str | None = None) -> ClapScorer:
    """Load CLAP weights (Hub id or local folder; see :func:`clap_source`) into a :class:`ClapScorer`.

    Tries the folder or the local Hugging Face cache first, then (unless ``HF_HUB_OFFLINE`` is set or the hub
    is unreachable) a download. Raises :class:`ScorerUnavailable` with a plain reason naming
    ``$SYNTH_STUDIO_CLAP`` when torch or transformers is missing or the weights cannot be had.
    """
    source = clap_source(source)
    try:
        import torch  # noqa: F401
        from transformers import ClapModel, ClapProcessor
    except ImportError as err:
        raise ScorerUnavailable(f"CLAP needs torch and transformers ({_first_line(err)}); install the studio's "
                                "requirements.txt") from err
    device = resolve_device(device)
    hint = (f"set {MODEL_ENV} to a folder with a local copy of {DEFAULT_MODEL} (config.json, model.safetensors, "
            "tokenizer and preprocessor files) or allow downloads from the Hugging Face Hub")

    def load(local_only: bool):
        return (ClapModel.from_pretrained(source, local_files_only=local_only),
                ClapProcessor.from_pretrained(source, local_files_only=local_only))

    try:
        model, processor = load(local_only=True)  # a folder, or the local Hugging Face cache
    except Exception as cached_error:  # OSError, ValueError, hub errors: all mean "not here"
        if Path(source).is_dir():
            raise ScorerUnavailable(f"the folder {source} does not hold CLAP weights ({_first_line(cached_error)}); "
                                    f"{hint}") from cached_error
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            raise ScorerUnavailable(f"the CLAP weights '{source}' are not in the local Hugging Face cache and "
                                    f"HF_HUB_OFFLINE is set; {hint}") from cached_error
        host = hub_host()
        if not reachable(host):
            raise ScorerUnavailable(f"the CLAP weights '{source}' are not in the local Hugging Face cache and {host} "
                                    f"cannot be reached; {hint}") from cached_error
        try:
            model, processor = load(local_only=False)
        except Exception as err:
            raise ScorerUnavailable(f"the CLAP weights '{source}' could not be loaded ({_first_line(err)}); "
                                    f"{hint}") from err
    return ClapScorer(model, processor.tokenizer, processor.feature_extractor, source=source, semantic=True,
                      reason=f"CLAP weights {source} loaded on {device}", device=device, batch_size=batch_size,
                      precision=precision)


def hub_host() -> str:
    """The Hugging Face Hub's host name (``$HF_ENDPOINT`` if set)."""
    from urllib.parse import urlparse

    return urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"


def reachable(host: str, port: int = 443, timeout_s: float = 2.0) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout_s`` (the hub client retries for ~30 s
    before giving up on a machine without network; this answers in at most a few seconds)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


@lru_cache(maxsize=2)
def cached_clap(source: str, device: str | None = None) -> ClapScorer:
    """:func:`load_clap`, once per process per (source, device): the weights are large and slow to load."""
    return load_clap(source, device)
