"""Environment families: one subpackage each (swe, search_qa, ...), registered in `prm.registration`."""
