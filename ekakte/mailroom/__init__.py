"""The mail room (Posteingang): cover and separator sheets, stacks split at them."""
