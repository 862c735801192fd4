"""Write-side services of the payments core: typed, keyword-only, ``<entity>_<action>``."""
