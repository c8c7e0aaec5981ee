"""mrt-tui: the Textual operator console. The only package that imports textual."""
