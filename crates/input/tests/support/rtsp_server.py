#!/usr/bin/python3
"""A GStreamer RTSP server (gst-rtsp-server through python3-gi) that serves one committed clip
on loopback, for `tests/input_rtsp.rs`.

Usage: rtsp_server.py --port P --clip FILE --codec h264|h265|vp8 [--user U --password W]
       [--exit-after SECONDS] [--loop]

Prints `READY <port>` on stdout once it listens; the test waits for that line. The clip is
served at rtsp://127.0.0.1:P/clip (H.264/HEVC Annex-B or MPEG-TS through the parser and
RTP payloader, VP8 from IVF), once per client, in real time, over TCP-interleaved or UDP as the client asks.
`--exit-after` makes the process exit that many seconds after the first client starts playing
(a server that goes away mid-stream); it always exits after 60 s so a test that dies cannot
leave it running.
"""
import argparse
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

LAUNCH = {
    "h264": "h264parse ! rtph264pay name=pay0 pt=96",
    "h265": "h265parse ! rtph265pay name=pay0 pt=96",
    "vp8": "ivfparse ! rtpvp8pay name=pay0 pt=96",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--codec", choices=sorted(LAUNCH), required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--exit-after", type=float)
    ap.add_argument("--lifetime", type=float, default=60.0)
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    clip = os.path.abspath(args.clip)
    # An MPEG-TS clip is demuxed first: its PES timestamps become the RTP timestamps. A raw
    # elementary stream carries no presentation times, and the payloader then stamps every
    # access unit alike.
    demux = " ! tsdemux" if clip.endswith(".ts") else ""
    factory.set_launch(f"( filesrc location={clip}{demux} ! {LAUNCH[args.codec]} )")
    factory.set_shared(False)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)

    if args.user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        factory.add_role_from_structure(
            Gst.Structure.from_string(
                "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )[0]
        )

    server.get_mount_points().add_factory("/clip", factory)
    loop = GLib.MainLoop()

    def on_media_configure(_factory, media):
        if args.exit_after is not None:
            # Leave without a TEARDOWN or RTCP BYE: the process is gone, as a crashed camera.
            GLib.timeout_add(int(args.exit_after * 1000), lambda: os._exit(0))

    factory.connect("media-configure", on_media_configure)
    GLib.timeout_add(int(args.lifetime * 1000), lambda: os._exit(0))
    if server.attach(None) == 0:
        print("cannot listen on port", args.port, file=sys.stderr, flush=True)
        sys.exit(1)
    print("READY", args.port, flush=True)
    loop.run()


if __name__ == "__main__":
    main()
