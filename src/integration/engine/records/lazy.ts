/**
 * Values parsed only when somebody reads them. On a rerun over an unchanged library every
 * stored CivitAI answer (the version and parent-model bodies: most of a record's bytes) is in
 * the state store; parsing them all was most of the run and kept them all in memory. Instead a
 * record's `version` and `model` are accessor properties that load on the first read and then
 * turn into plain properties: a caller that reads them (the site, a report) pays for what it
 * reads, one that does not (a CLI scan) pays nothing.
 *
 * The spread operator and `Object.assign` read accessors, so code that moves these values from
 * object to object goes through `copyLazy`/`shallowCopy`, and tests for presence with `isSet`.
 */

/** A value loaded once, on the first `get()`. `meta` is what is known without loading it. */
export class LazyValue<T, M = unknown> {
  /**
   * Called with `meta`: one loader can serve many values (a closure per value was memory per
   * record). Typed without M, so a value with richer meta still passes as LazyValue<T>.
   */
  #load: ((meta: never) => T) | undefined;
  #value: T | undefined;
  readonly meta: M;

  constructor(load: (meta: M) => T, meta: M) {
    this.#load = load;
    this.meta = meta;
  }

  get loaded(): boolean {
    return this.#load === undefined;
  }

  get(): T {
    const load = this.#load;
    if (load) {
      this.#value = (load as (meta: M) => T)(this.meta);
      this.#load = undefined;
    }
    return this.#value as T;
  }
}

type Slots = Record<PropertyKey, LazyValue<unknown>>;

/**
 * Where an object keeps its lazy values: a private field, which JSON, spread, equality and
 * property listings never see. A class whose base constructor returns the object it is given
 * adds its private field to that object (the way V8 adds a private symbol). A hidden property
 * defined with Object.defineProperty did the same at about ten times the cost, for each stored
 * sidecar, item and record of a rerun (150,000 at 50,000 files, 100,000 more with previews).
 */
const ReturnsItsArgument = function (target: object) {
  return target;
} as unknown as new (target: object) => object;

class SlotHolder extends ReturnsItsArgument {
  #slots: Slots;

  private constructor(target: object, slots: Slots) {
    super(target);
    this.#slots = slots;
  }

  static of(target: object): Slots | undefined {
    return #slots in target ? (target as SlotHolder).#slots : undefined;
  }

  /** Gives `target` its slots, or replaces them. */
  static set(target: object, slots: Slots): void {
    if (#slots in target) (target as SlotHolder).#slots = slots;
    else new SlotHolder(target, slots);
  }
}

/**
 * Descriptors are made once and reused (`value` set just before each use): a descriptor object
 * per call made `Object.defineProperty` ten times as slow, and a rerun over 50,000 files makes
 * several hundred thousand of these calls. defineProperty reads a descriptor and keeps nothing of it.
 */
const PLAIN: PropertyDescriptor = { value: undefined, writable: true, enumerable: true, configurable: true };

function definePlain(target: object, key: PropertyKey, value: unknown, descriptor: PropertyDescriptor): void {
  descriptor.value = value;
  try {
    Object.defineProperty(target, key, descriptor);
  } finally {
    descriptor.value = undefined;
  }
}

/** The property becomes a plain one; its slot goes, so a slot always means "still lazy here". */
const settle = (self: object, key: PropertyKey, value: unknown) => {
  definePlain(self, key, value, PLAIN);
  const slots = slotsOf(self);
  if (slots && key in slots) slots[key] = undefined as unknown as LazyValue<unknown>;
};

/**
 * One getter and setter per property name, shared by every object: V8 then gives objects with
 * the same lazy properties one shape (a closure per object made each one a shape of its own).
 */
const accessors = new Map<PropertyKey, PropertyDescriptor>();
function accessorsOf(key: PropertyKey): PropertyDescriptor {
  let descriptor = accessors.get(key);
  if (!descriptor) {
    descriptor = {
      get(this: object) {
        // `this`, not the object it was defined on: a copy made with shallowCopy settles on itself.
        const value = (slotsOf(this)?.[key] as LazyValue<unknown>).get();
        settle(this, key, value);
        return value;
      },
      set(this: object, value: unknown) {
        settle(this, key, value);
      },
      enumerable: true,
      configurable: true,
    };
    accessors.set(key, descriptor);
  }
  return descriptor;
}

function slotsOf(target: object): Slots | undefined {
  return SlotHolder.of(target);
}

/** `target[key]` reads `lazy` on first access, then is a plain property (writable, enumerable). */
export function defineLazy(target: object, key: PropertyKey, lazy: LazyValue<unknown>): void {
  ownSlots(target)[key] = lazy;
  Object.defineProperty(target, key, accessorsOf(key));
}

function ownSlots(target: object): Slots {
  let slots = slotsOf(target);
  if (!slots) {
    slots = {};
    SlotHolder.set(target, slots);
  }
  return slots;
}

/** The unloaded lazy value behind `target[key]`, if it is one. */
export function lazyOf(target: object, key: PropertyKey): LazyValue<unknown> | undefined {
  // The slot alone answers (settle clears it): asking for the property's descriptor made an
  // object per call, several per record on every run.
  const lazy = slotsOf(target)?.[key];
  return lazy instanceof LazyValue && !lazy.loaded ? lazy : undefined;
}

/** `target[key] = source[key]`, without loading it when it is lazy. */
export function copyLazy<T extends object, K extends keyof T>(target: T, source: object, key: K): void {
  const lazy = lazyOf(source, key);
  if (lazy) defineLazy(target, key, lazy);
  else target[key] = (source as T)[key];
}

/** `target[key] !== undefined`, answered for a lazy property without loading it. */
export function isSet(target: object, key: PropertyKey): boolean {
  return lazyOf(target, key) !== undefined || (target as Record<PropertyKey, unknown>)[key] !== undefined;
}

/** `{ ...source }` that keeps lazy properties lazy. */
export function shallowCopy<T extends object>(source: T): T {
  const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(source)) as T;
  // Slots of its own: a lazy value defined on the copy later must not change the source.
  const slots = slotsOf(source);
  if (slots) SlotHolder.set(copy, { ...slots });
  return copy;
}

/** A field worked out on first read (defineComputed). */
interface ComputeSlot {
  compute: () => void;
}

const computedAccessors = new Map<PropertyKey, PropertyDescriptor>();

/**
 * `target[key]` is computed on first read by `compute`, which assigns it (on this object and
 * maybe others that share the computation) or leaves it undefined; an assignment settles it as
 * a plain property. For an optional field worked out over a group of records (`updates`).
 * Shared accessors, as for defineLazy: a getter per object put every record in V8's slow mode.
 */
export function defineComputed(target: object, key: PropertyKey, compute: () => void): void {
  let pair = computedAccessors.get(key);
  if (!pair) {
    pair = {
      get(this: object) {
        const slot = slotsOf(this)?.[key] as unknown as ComputeSlot | undefined;
        // A plain property first, so that what compute assigns lands in it.
        settle(this, key, undefined);
        slot?.compute();
        return (this as Record<PropertyKey, unknown>)[key];
      },
      set(this: object, value: unknown) {
        settle(this, key, value);
      },
      enumerable: true,
      configurable: true,
    };
    computedAccessors.set(key, pair);
  }
  (ownSlots(target) as Record<PropertyKey, unknown>)[key] = { compute } satisfies ComputeSlot;
  Object.defineProperty(target, key, pair);
}
