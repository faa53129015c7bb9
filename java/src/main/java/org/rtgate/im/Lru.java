package org.rtgate.im;

import java.util.LinkedHashMap;
import java.util.Map;

/** A map that forgets its oldest entry beyond max entries. Not synchronized. */
final class Lru<K, V> extends LinkedHashMap<K, V> {
    private static final long serialVersionUID = 1L;
    private final int max;

    Lru(int max) {
        super(16, 0.75f, false);
        this.max = max;
    }

    @Override
    protected boolean removeEldestEntry(Map.Entry<K, V> e) {
        return size() > max;
    }
}
