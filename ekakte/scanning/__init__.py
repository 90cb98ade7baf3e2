"""Replacement scanning (TR-RESISCAN): what the archive records and checks of how a scan was made."""
