//! Readers that split compressed video files into packets for the decoder.
