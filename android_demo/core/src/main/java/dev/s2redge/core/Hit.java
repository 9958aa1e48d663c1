package dev.s2redge.core;

/** One search result: doc id, cosine similarity to the query (1 - hnswlib's ip distance), the doc's text. */
public record Hit(String id, double score, String text) {}
