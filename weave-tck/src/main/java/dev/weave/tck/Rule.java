package dev.weave.tck;

import java.net.URL;
import java.util.Locale;

/**
 * The rules of weave's contract, numbered as in the specification ({@value #SPEC} in weave's
 * sources, and {@value #SPEC_RESOURCE} beside this class in the TCK jar), each with the sentence
 * that states it there. Every {@link TckCase} checks one of them, and a failing case names its rule
 * and links to its section.
 */
public enum Rule {
  R1(
      1,
      "Per thread",
      "A registration belongs to the thread that made it. Only that thread's death runs it."),
  R2(
      2,
      "At death, in order",
      "When the thread dies, each of its registrations runs once, in the order registered, across all "
          + "slots and variables, with the value its variable holds when that destructor is called (an "
          + "earlier destructor that changes a later one's variable is seen). The value 0 is passed like any"
          + " other."),
  R3(
      3,
      "Unregister",
      "unregister(x) removes every registration of the calling thread on x and returns whether there "
          + "was one; other threads' registrations are untouched."),
  R4(
      4,
      "Where destructors run",
      "On the dying OS thread, after its Java code has finished. Thread.join() may return before they "
          + "have run. A Java destructor runs with the thread briefly re-attached to the JVM: "
          + "Thread.currentThread() is not the dead Thread, its ThreadLocals are gone. Native destructors "
          + "run without the JVM's help. Slot and registry calls made by a destructor act on the dying "
          + "thread's own cells and registrations."),
  R5(
      5,
      "Cells outlive destructors",
      "A slot's cell keeps its value until every destructor of that thread has run (unlike pthread "
          + "keys, which glibc clears first)."),
  R6(
      6,
      "A throwing Java destructor",
      "A throwing Java destructor is reported through System.Logger (logger name dev.weave) and the "
          + "remaining destructors still run. Nothing escapes into native code: an exception in an FFM "
          + "upcall would otherwise end the JVM."),
  R7(
      7,
      "Registering while dying",
      "A registration made by a destructor runs after the current ones, in further rounds, at most 4 "
          + "rounds in all (as PTHREAD_DESTRUCTOR_ITERATIONS); what is left after that is dropped with a "
          + "warning."),
  R8(
      8,
      "No leaks",
      "After any number of thread deaths, the JVM's live thread count is back to where it was "
          + "(re-attached threads are detached again) and weave's native memory is freed."),
  R9(
      9,
      "Virtual threads",
      "Native thread-local storage belongs to OS threads: every registry and slot operation called "
          + "from a virtual thread throws IllegalStateException saying so."),
  R10(
      10,
      "JVM exit",
      "Threads still alive at exit do not run their destructors (as with pthread keys). A thread dying"
          + " while the JVM shuts down must not crash it, and neither may the launcher's main thread, which "
          + "dies after the JVM is destroyed when main returns normally: a program that registered on its "
          + "main thread exits with status 0, no hs_err_pid file and nothing printed by weave or its FFI "
          + "library."),
  R11(
      11,
      "Closing and reusing slots",
      "close() drops every registration on the slot, on every thread, without running it, whatever "
          + "form it was made in (through the slot or through its cell's address), and none made during "
          + "or after close() survives it. A cell's memory stays valid until its thread dies (native code "
          + "holding the address never writes into freed memory). A new slot reads 0 on every thread until "
          + "set, even where it reuses a closed slot's storage; creating and closing slots in a loop does "
          + "not grow memory without bound."),
  R12(
      12,
      "Bad input",
      "gets an exception whose message names the problem, and changes nothing: a null slot or "
          + "destructor (NullPointerException), a 0 variable or function address, or a variable address "
          + "that is not aligned to 8 bytes (IllegalArgumentException), a slot of another backend "
          + "(IllegalArgumentException), any use of a closed slot (IllegalStateException), an unknown or "
          + "unusable backend name (WeaveException, a RuntimeException; the message lists what is usable "
          + "and why the others are not)."),
  R13(
      13,
      "Ending a thread's weave life early",
      "runDestructors() runs, at once and on the calling thread, every registration that thread holds,"
          + " exactly as its death would (rules 2, 5, 6, 7: order, value at call time, error isolation, "
          + "rounds), but on the live thread: a Java destructor sees the real Thread.currentThread(), its "
          + "name and its ThreadLocals, and no re-attach is needed. Afterwards the thread holds no "
          + "registration and every slot reads 0 on it; its cells keep their addresses and stay valid until "
          + "the OS thread dies (rule 11), and it may use weave again: what it registers later runs at its "
          + "death, or at the next runDestructors(). WeaveThread, Weave.threadFactory and Weave.wrap call it"
          + " when the task ends, so on those threads destructors have run when Thread.join() returns "
          + "(unlike rule 4). Called from a destructor it throws IllegalStateException; from a virtual "
          + "thread, as rule 9."),
  R14(
      14,
      "Checked mode",
      "-Dweave.checked=true makes every engine check its own use of native memory and pthread keys, as"
          + " a sanitizer would: a read, write or free of a block it has freed or never allocated, a double "
          + "free, a key used after deletion. Each violation is reported (the operation, the block, and "
          + "where it was allocated and freed) and counted, and nothing is touched; the count and the number"
          + " of live blocks and keys the engine owns are readable by tests, so \"no leak\" is an exact "
          + "count, not a heap estimate. Off by default, and free when off."),
  R15(
      15,
      "Calls during a thread's OS exit",
      "After a thread's Java code has ended, other libraries' key destructors may run Java on it (an "
          + "upcall re-attaches the thread, and the JDK does not detach attachments made there), and a "
          + "JNI-attached thread may exit without detaching. A weave call made then, before or after "
          + "weave's own keys for that thread were visited, never reads, writes or frees memory weave no "
          + "longer owns: it sees the thread's live cells, or a fresh state whose slots read 0. What it "
          + "registers runs in glibc's next destructor pass, or is dropped with a warning after the last "
          + "pass; nothing leaks, and nothing runs twice.");

  /** Where the specification is in weave's sources; each rule has a section there. */
  public static final String SPEC = "docs/SPEC.md";

  /**
   * The copy of the specification that the TCK jar carries beside this class, so that a failure's
   * link works offline and names the text of the TCK that ran.
   */
  public static final String SPEC_RESOURCE = "SPEC.md";

  private final int number;
  private final String title;
  private final String sentence;

  Rule(int number, String title, String sentence) {
    this.number = number;
    this.title = title;
    this.sentence = sentence;
  }

  /**
   * @return the rule's number in the specification, 1 to 15
   */
  public int number() {
    return number;
  }

  /**
   * @return the rule's short title, as its section in the specification is headed
   */
  public String title() {
    return title;
  }

  /**
   * @return what the rule says
   */
  public String sentence() {
    return sentence;
  }

  /**
   * @return the heading of the rule's section in the specification: {@code Rule 2: At death, in
   *     order}
   */
  public String heading() {
    return "Rule " + number + ": " + title;
  }

  /**
   * @return the anchor of the rule's section in the specification: {@code rule-2-at-death-in-order}
   */
  public String anchor() {
    return gitHubAnchor(heading());
  }

  /**
   * @return the address of the rule's section in the copy of the specification in the TCK jar (a
   *     {@code jar:} URL, or a {@code file:} one where the TCK runs from its classes), which works
   *     offline; {@value #SPEC} and the anchor if that copy is missing
   */
  public String link() {
    URL spec = Rule.class.getResource(SPEC_RESOURCE);
    return (spec == null ? SPEC : spec.toExternalForm()) + "#" + anchor();
  }

  /**
   * @return how a failure names the rule: {@code rule 2 (At death, in order)}
   */
  public String label() {
    return "rule " + number + " (" + title + ")";
  }

  /** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces as hyphens. */
  static String gitHubAnchor(String heading) {
    return heading.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9 _-]", "").replace(' ', '-');
  }
}
