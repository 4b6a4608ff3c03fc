"""A progress bar for long namespace copies, fed by the data mover."""


class ProgressBar:
    """Redraws one line on a terminal; elsewhere prints a line per update."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.drawn = False

    def __call__(self, progress):
        filled = int(self.WIDTH * progress.percent / 100)
        eta = progress.eta
        line = (
            f"{progress.name}: [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{progress.percent:5.1f}% {progress.done / 2**20:8.1f} MiB "
            f"{progress.mb_per_s:7.1f} MB/s ETA "
            f"{'-' if eta is None else f'{eta:.0f}s'}"
        )
        if self.tty:
            self.stream.write("\r" + line)
            self.drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
