"""Building image sets (torch-free): MNIST and Fashion-MNIST from their idx files, HAM10000 from its JPEGs or
its 28×28 RGB CSV, a small offline demo set, patches of real photographs (offline), a dSprites-like set of
shapes drawn with its factors (offline), experiment splits, and folders of image files written, arranged and
packed. ``python -m vae.datasets`` (``__main__.py``):

    python -m vae.datasets mnist  --out data/     download MNIST (checksums, a second mirror), write
                                                  mnist_1_4_8_{train,val,test,recon}.npz
    python -m vae.datasets fashion-mnist --out data/
                                                  download Fashion-MNIST (checksums, a second mirror),
                                                  write fashion_mnist_{train,test}.npz (labels 0..9)
    python -m vae.datasets ham10000 --images DIR [DIR ...] --metadata HAM10000_metadata.csv --out FOLDER
                                   [--image-size S]
                                                  HAM10000 as distributed, arranged as FOLDER/DIAGNOSIS/ID.jpg
                                                  (akiec, bcc, bkl, df, mel, nv, vasc), optionally resized
    python -m vae.datasets ham10000 --csv hmnist_28_28_RGB.csv --out data/
                                                  Kaggle's 28×28 RGB HAM10000 CSV (download it yourself)
                                                  as ham10000_{train,test}.npz: N×28×28×3 uint8, labels
                                                  0..6 as in the file, a stratified 80/20 split
    python -m vae.datasets digits --out DIR       the offline demo set from scikit-learn's digits
    python -m vae.datasets photos SET --out DIR [--image-size S]
                                                  patches of the photographs scikit-image and scikit-learn
                                                  ship, as DIR/train/ and DIR/test/ class folders (SET:
                                                  grey-classes, colour-classes, grey-anomaly, colour-anomaly)
    python -m vae.datasets shapes --out DIR [--scales N] [--orientations N] [--positions N] [--image-size S]
                                                  square, ellipse and heart in every scale, orientation and
                                                  x, y position once (dSprites' 6, 40, 32×32 at 64×64 by
                                                  default: 737,280 images, half a minute, 3.2 GB of memory),
                                                  as DIR/shapes.npz:
                                                  data N×S×S uint8 0/255, factors N×5 (each value's index),
                                                  factor_names
    python -m vae.datasets split SOURCE.npz --out DIR
                                                  the fixed train/val/selection/test split of a
                                                  labelled file, for experiments and quality tests
    python -m vae.datasets combine FIRST.npz ... LAST.npz --hold-out N --out DIR
                                                  the files together as DIR/train.npz, less N images of
                                                  LAST (stratified by label) kept as DIR/test.npz
    python -m vae.datasets images SOURCE.npz --out DIR [--image-size S] [--tint]
                                                  each image as DIR/LABEL/NNNNNN.png, resized, tinted RGB
    python -m vae.datasets pack FOLDER --out SET/ [--image-size S] [--channels 1|3] [--skip-unreadable]
                                                  a folder of images decoded once into SET/data.npy,
                                                  labels.npy, classes.txt, files.txt: read as fast as .npy
"""

