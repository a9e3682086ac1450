"""Where and how work runs, shared by training, inference, evaluation and video alike: devices and their free
memory (`devices`), numeric precision and autocast (`precision`), and the torchrun world: ranks, sharding of
work, collectives (`distributed`). It imports nothing else of msinet."""
