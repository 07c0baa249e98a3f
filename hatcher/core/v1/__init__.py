"""API version 1 model classes, under the import paths of the reference hatcher."""
