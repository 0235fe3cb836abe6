"""What an event loop is doing when a call into it overran its bound: the loop thread's own stack (a blocking
call shows there) and every pending task's (an await that never ends shows there). For the log, so an
intermittent hang can be read after the fact rather than reproduced."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
import traceback


def describe(loop: asyncio.AbstractEventLoop, thread: threading.Thread | None) -> str:
    out = io.StringIO()
    frame = sys._current_frames().get(thread.ident) if thread is not None and thread.ident else None
    if frame is not None:
        out.write(f"loop thread {thread.name if thread else '?'}:\n")
        out.write("".join(traceback.format_stack(frame)))
    try:
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    except RuntimeError:  # the set changed while read from this thread: the loop is not stuck after all
        return out.getvalue()
    for task in tasks:
        out.write(f"task {task.get_name()} {task.get_coro()!r}:\n")
        task.print_stack(limit=12, file=out)
    return out.getvalue()
