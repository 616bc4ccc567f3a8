package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PageTableTest {

  @Test
  void numbersFreshPagesInOrderAndRecyclesFreedOnes() {
    PageTable t = new PageTable(4, 5);
    List<Integer> fresh = new ArrayList<>();
    int a = t.newSequence();
    int b = t.newSequence();
    assertEquals(0, t.extend(a, 5, fresh::add));   // 2 pages
    assertEquals(0, t.extend(b, 4, fresh::add));   // 1 page
    assertEquals(5, t.extend(a, 3, fresh::add));   // still 2 pages
    assertEquals(List.of(0, 1, 2), fresh);
    assertArrayEquals(new int[] {0, 1}, t.blockTable(a));
    assertArrayEquals(new int[] {2}, t.blockTable(b));
    assertEquals(8, t.length(a));
    t.free(a);
    assertEquals(0, t.length(a));
    assertArrayEquals(new int[0], t.blockTable(a));
    // the freed pages come back before new ones are numbered
    t.extend(b, 9, fresh::add);                    // 13 tokens: 4 pages, 3 more
    assertEquals(List.of(0, 1, 2, 3), fresh);
    int[] table = t.blockTable(b);
    assertEquals(4, table.length);
    assertEquals(2, table[0]);
    assertTrue(List.of(0, 1).contains(table[1]) && List.of(0, 1).contains(table[2]));
    assertEquals(3, table[3]);
    assertEquals(4, t.allocatedPages());
  }

  @Test
  void aFullPoolLeavesTheTableUnchangedAndNamesTheNumbers() {
    PageTable t = new PageTable(8, 2);
    int s = t.newSequence();
    t.extend(s, 10, p -> { });
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> t.extend(s, 7, p -> { }));
    assertTrue(e.getMessage().contains("needs 1 more pages, 0 are free (maxPages 2)"),
        e.getMessage());
    assertEquals(10, t.length(s));
    assertThrows(IllegalArgumentException.class, () -> t.extend(s, -1, p -> { }));
    assertThrows(IllegalArgumentException.class, () -> t.length(3));
    assertThrows(IllegalArgumentException.class, () -> new PageTable(0, 1));
    assertThrows(IllegalArgumentException.class, () -> t.extend(s, Integer.MAX_VALUE, p -> { }));
  }
}
