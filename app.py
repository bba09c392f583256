"""Entry point of the synth sketch studio (also the Hugging Face Space's): ``python app.py --help``."""
import os

from studio.hosting import prepare_process

# Let JAX (synth) and torch (CLAP) share a GPU instead of JAX taking 75 % of it at start; on a ZeroGPU Space,
# import `spaces` before torch (studio/hosting.py). Before anything imports JAX.
prepare_process()
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

if __name__ == "__main__":
    from studio.synth.cpu import tune_cpu

    tune_cpu()  # before the first computation: XLA reads its flags once
    # Start compiling the synth before importing Gradio (~5 s): the two overlap on separate cores.
    from studio.synth import RenderSettings
    from studio.ui.views import start_warm_up

    start_warm_up((RenderSettings(),))

    from studio.ui.app import main

    main()
