"""API version 0 model classes, under the import paths of the reference hatcher."""
