"""Playing a sound: notes of one patch at other pitches and lengths (the keyboard, MIDI files, sampler exports)."""
