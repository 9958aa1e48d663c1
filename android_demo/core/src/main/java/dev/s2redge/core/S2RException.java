package dev.s2redge.core;

/** A problem with the caller's input (model, index, audio): the message names the file and what to do. */
public class S2RException extends Exception {
    private static final long serialVersionUID = 1L;

    public S2RException(String message) {
        super(message);
    }
}
