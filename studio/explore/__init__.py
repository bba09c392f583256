"""Ways to discover sounds around the one you have: doppelgängers, interpolation strips, maps; with locks.

Everything works on θ ``[78]`` / ``[N, 78]`` in [0, 1] plus render settings; perceptual distances come from
``studio.audio.embedding`` (1.0 = the median distance between two random sounds). UMAP is imported lazily.
"""
from .doppelgangers import DEFAULT_DELTA, doppelganger_noise, doppelganger_steps, doppelgangers, step_from
from .interpolate import MODES, Strip, interpolate, lerp_thetas
from .locks import LOCK_GROUPS, LOCK_LABELS, apply_locks, describe_locks, lock_mask, locked_keys
from .maps import SoundMap, map_coordinates, map_features, sound_map, umap_warm, umap_warming, warm_up_umap
from .sound_sets import Variations, strip_between, variations_of
from .sounds import distances_to, embed_audio, embed_sounds, render_sounds

__all__ = ["DEFAULT_DELTA", "LOCK_GROUPS", "LOCK_LABELS", "MODES", "SoundMap", "Strip", "apply_locks",
           "describe_locks", "distances_to", "doppelganger_noise", "doppelganger_steps", "doppelgangers",
           "embed_audio", "embed_sounds", "interpolate", "lerp_thetas", "lock_mask", "locked_keys", "map_coordinates",
           "map_features", "render_sounds", "sound_map", "step_from", "strip_between", "umap_warm", "umap_warming",
           "variations_of", "Variations", "warm_up_umap"]
