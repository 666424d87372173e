"""Training: `avemo train` on a video corpus (`video`), `avemo train-faces` on expression images (`images`), and the
transformers Trainer they share (`trainer`).

    from avemo.train import TrainOptions, train
    metrics = train(TrainOptions(data_dir="RAVDESS", corpus="ravdess", output_dir="runs/ravdess"))
"""

from avemo.train.images import TrainFacesOptions, train_faces
from avemo.train.video import TrainOptions, train

__all__ = ["TrainOptions", "train", "TrainFacesOptions", "train_faces"]
