package dev.weave.tck;
final class Placeholder {}
