"""From corpus rows to training batches: the feature cache of clips and images (`caching`), the data collator that
samples frames, augments and computes the log-mel per batch (`collator`), and the augmentations it applies
(`augmentation`)."""
