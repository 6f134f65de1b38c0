/*
 * The gallery's engine, without any DOM: decodes the search index (integration/site/
 * gallery-index.ts), reads and writes the URL state, filters, counts facets and sorts.
 *
 * A classic script (pages opened from file:// cannot load module scripts) that defines
 * `CSCore` on the global object; the Node tests import the same file and read `globalThis.CSCore`.
 */
(function (root) {
  'use strict';

  var DAY_ZERO = Date.UTC(2015, 0, 1);
  var LEVELS = ['Unrated', 'PG', 'PG-13', 'R', 'X', 'XXX'];
  var STATUS_LABELS = ['On CivitAI', 'Not on CivitAI', 'Lookup failed', 'Not checked'];
  var FLAG_THUMB = 1;
  var FLAG_VIDEO = 2;
  var FLAG_NEWER = 4;
  var FLAG_NSFW = 8;
  var FLAG_SAME_FILE = 16;
  var FLAG_SAME_VERSION = 32;
  var FLAG_LINKED = 64;
  var FLAG_REMOVED = 128;
  var FLAG_MISSING = 256;
  /** Values of the `Personal` facet (from the browser's own store, see curation.js). */
  var PERSONAL_LABELS = ['Favourites', 'With notes'];
  var DUPLICATE_LABELS = ['Identical file', 'Same CivitAI version'];
  /** The Status facet and the Source facet (integration/site/status.ts has the same tables). */
  var STATE_LABELS = ['Linked by hand', 'Removed from CivitAI', 'Missing file'];
  var SOURCE_LABELS = ['CivitAI', 'civitai.red', 'CivArchive', 'Offline archive'];
  /** `u` of the index: how a model is used in a prompt. */
  var USAGE_NONE = 0;
  var USAGE_LORA = 1;
  var USAGE_EMBEDDING = 2;

  /** Facets in sidebar order. `hash` is the URL key (type/base/folder/q/sort/dir/view as the seed's gallery). */
  var FACETS = [
    { key: 'mine', hash: 'mine', label: 'Personal', fixedOrder: true, personal: true },
    { key: 'type', hash: 'type', label: 'Type' },
    { key: 'base', hash: 'base', label: 'Base model' },
    { key: 'folder', hash: 'folder', label: 'Folder', tree: true },
    { key: 'creator', hash: 'creator', label: 'Creator' },
    { key: 'tag', hash: 'tag', label: 'Tags' },
    { key: 'mytag', hash: 'mytag', label: 'Your tags', personal: true },
    { key: 'rating', hash: 'rating', label: 'Content rating', fixedOrder: true },
    { key: 'status', hash: 'civitai', label: 'CivitAI', fixedOrder: true },
    { key: 'state', hash: 'state', label: 'Status', fixedOrder: true },
    { key: 'source', hash: 'source', label: 'Source', fixedOrder: true },
    { key: 'updates', hash: 'updates', label: 'Updates', fixedOrder: true },
    { key: 'dupes', hash: 'dupes', label: 'Duplicates', fixedOrder: true },
  ];

  var SORTS = [
    { key: 'name', label: 'Name', dir: 'asc' },
    { key: 'created', label: 'Date created', dir: 'desc', column: 'cr' },
    { key: 'updated', label: 'Date updated', dir: 'desc', column: 'up' },
    { key: 'downloads', label: 'Downloads', dir: 'desc', column: 'dl' },
    { key: 'thumbs', label: 'Thumbs up', dir: 'desc', column: 'tu' },
    { key: 'rating', label: 'Rating', dir: 'desc', column: 'ra' },
    { key: 'size', label: 'File size', dir: 'desc', column: 'sz' },
    { key: 'added', label: 'Date added locally', dir: 'desc', column: 'ad' },
  ];
  /** Sort names of the seed's gallery. */
  var SORT_ALIASES = { modified: 'added', file_modified: 'added', date: 'created', date_created: 'created', date_updated: 'updated', thumbsup: 'thumbs' };
  var VIEWS = ['grid', 'large', 'list'];
  var VIEW_ALIASES = { focused: 'large', cards: 'grid' };

  function slugify(value) {
    var slug = String(value)
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60)
      .replace(/-+$/, '');
    return slug || 'model';
  }

  /** Lower case without accents, for search. */
  function fold(value) {
    return String(value).normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  }

  /**
   * The core index (embedded in the page) as the arrays the engine and the renderer use. Page
   * ids, file names, version names, trigger words and colours come with `attachExtra`.
   */
  function decodeIndex(raw) {
    var c = raw.c;
    var n = raw.n;
    var d = raw.d;
    var folderDepth = [];
    for (var f = 0; f < d.folder.length; f++) folderDepth.push(-1);
    var depthOf = function (k) {
      if (folderDepth[k] >= 0) return folderDepth[k];
      var parent = d.folderParent[k];
      folderDepth[k] = parent < 0 ? 0 : depthOf(parent) + 1;
      return folderDepth[k];
    };
    for (var g = 0; g < d.folder.length; g++) depthOf(g);
    // A model's tags are stored sorted, each as the difference to the one before.
    for (var t = 0; t < n; t++) {
      var list = c.tags[t];
      for (var k = 1; k < list.length; k++) list[k] += list[k - 1];
    }
    var model = {
      n: n,
      raw: raw,
      c: c,
      d: d,
      /** Numbers cards show and sort by (`cr`, `up` as a date, `dl`, …); filled by attachExtra. */
      num: {},
      extra: null,
      ids: new Array(n),
      stems: null,
      versions: null,
      triggers: null,
      urls: null,
      colours: new Array(n),
      hay: new Array(n),
      folderDepth: folderDepth,
      level: function (i) { return Math.floor(c.lv[i] / 6); },
      coverLevel: function (i) { return c.lv[i] % 6; },
      hasThumb: function (i) { return (c.f[i] & FLAG_THUMB) !== 0; },
      isVideo: function (i) { return (c.f[i] & FLAG_VIDEO) !== 0; },
      hasNewer: function (i) { return (c.f[i] & FLAG_NEWER) !== 0; },
      isNsfw: function (i) { return (c.f[i] & FLAG_NSFW) !== 0; },
      sameFile: function (i) { return (c.f[i] & FLAG_SAME_FILE) !== 0; },
      sameVersion: function (i) { return (c.f[i] & FLAG_SAME_VERSION) !== 0; },
      isLinked: function (i) { return (c.f[i] & FLAG_LINKED) !== 0; },
      isRemoved: function (i) { return (c.f[i] & FLAG_REMOVED) !== 0; },
      isMissing: function (i) { return (c.f[i] & FLAG_MISSING) !== 0; },
      /** Position in SOURCE_LABELS of the source that answered; -1 for none. */
      source: function (i) { return c.src ? c.src[i] : -1; },
      /** Preferred weight from the model's sidecars (A1111 / ComfyUI-Lora-Manager), needs attachExtra. */
      sidecarWeight: function (i) {
        var w = model.extra && model.extra.w ? model.extra.w[i] : undefined;
        return typeof w === 'number' ? w : undefined;
      },
      /** `<lora:…:w>`, the embedding name, or '' (needs attachExtra). */
      usage: function (i, weight) { return usageLine(model.extra ? Number(model.extra.u.charAt(i)) : USAGE_NONE, model.stems ? model.stems[i] : '', weight); },
      /** The model file's full path ('' when the site does not show local paths). */
      path: function (i) {
        var extra = model.extra;
        if (!extra || !extra.pd) return '';
        var name = extra.pn[i] !== undefined ? extra.pn[i] : extra.stem[i] + extra.pe[i];
        return extra.pd[extra.pi[i]] + name;
      },
    };
    buildHaystack(model);
    return model;
  }

  /** Adds the second part of the index (ids, file names, versions, trigger words, colours). */
  function attachExtra(model, extra) {
    if (!extra || extra.n !== model.n) return false;
    var n = model.n;
    for (var i = 0; i < n; i++) {
      var explicit = extra.x[i];
      model.ids[i] = explicit !== undefined ? explicit : slugify(extra.stem[i]) + '-' + extra.h.substr(i * 10, 10);
      var ph = extra.ph.substr(i * 6, 6);
      model.colours[i] = ph.charAt(0) === '-' ? '' : '#' + ph;
    }
    // Update dates are stored as days after creation.
    var updated = new Array(n);
    for (var u = 0; u < n; u++) {
      var up = extra.up[u];
      var cr = extra.cr[u];
      updated[u] = up === null || up === undefined ? null : cr === null || cr === undefined ? up : cr + up;
    }
    model.num = { vc: extra.vc, cr: extra.cr, up: updated, dl: extra.dl, tu: extra.tu, ra: extra.ra, sz: extra.sz, ad: extra.ad };
    model.extra = extra;
    model.stems = extra.stem;
    model.versions = extra.ver;
    model.triggers = extra.trig;
    model.urls = extra.url || null;
    buildHaystack(model);
    return true;
  }

  /** What the search looks in, per model: name, file name, version, creator, tags, trigger words. */
  function buildHaystack(model) {
    var c = model.c;
    var d = model.d;
    var tagsFolded = d.tag.map(fold);
    var creatorsFolded = d.creator.map(fold);
    for (var i = 0; i < model.n; i++) {
      var parts = [fold(c.name[i])];
      if (model.stems) parts.push(fold(model.stems[i]));
      if (model.versions && model.versions[i]) parts.push(fold(model.versions[i]));
      if (c.creator[i] >= 0) parts.push(creatorsFolded[c.creator[i]]);
      var tags = c.tags[i];
      for (var t = 0; t < tags.length; t++) parts.push(tagsFolded[tags[t]]);
      if (model.triggers && model.triggers[i]) parts.push(fold(model.triggers[i]));
      model.hay[i] = parts.join('\n');
    }
    model.hayVersion = (model.hayVersion || 0) + 1;
  }

  /** Facet values: `labels` to show, and a function giving the value ids of one model. */
  function facetValues(model, key) {
    var c = model.c;
    var d = model.d;
    switch (key) {
      case 'type':
        return { labels: d.type, single: c.type };
      case 'base':
        return { labels: d.base, single: c.base };
      case 'creator':
        return { labels: d.creator, single: c.creator };
      case 'tag':
        return { labels: d.tag, multi: c.tags };
      case 'folder':
        return { labels: d.folder, tree: c.folder, parents: d.folderParent };
      case 'rating': {
        var levels = new Int32Array(model.n);
        for (var i = 0; i < model.n; i++) levels[i] = Math.floor(c.lv[i] / 6);
        return { labels: LEVELS, single: levels };
      }
      case 'status':
        return { labels: STATUS_LABELS, single: c.s };
      case 'updates': {
        var newer = new Int32Array(model.n);
        for (var j = 0; j < model.n; j++) newer[j] = c.f[j] & FLAG_NEWER ? 0 : -1;
        return { labels: ['Newer version available'], single: newer };
      }
      case 'dupes': {
        var kinds = new Array(model.n);
        for (var m = 0; m < model.n; m++) {
          var list = [];
          if (c.f[m] & FLAG_SAME_FILE) list.push(0);
          if (c.f[m] & FLAG_SAME_VERSION) list.push(1);
          kinds[m] = list;
        }
        return { labels: DUPLICATE_LABELS, multi: kinds };
      }
      case 'state': {
        var states = new Array(model.n);
        for (var s = 0; s < model.n; s++) {
          var flags = [];
          if (c.f[s] & FLAG_LINKED) flags.push(0);
          if (c.f[s] & FLAG_REMOVED) flags.push(1);
          if (c.f[s] & FLAG_MISSING) flags.push(2);
          states[s] = flags;
        }
        return { labels: STATE_LABELS, multi: states };
      }
      case 'source': {
        var sources = new Int32Array(model.n);
        for (var r = 0; r < model.n; r++) sources[r] = c.src && c.src[r] >= 0 ? c.src[r] : -1;
        return { labels: SOURCE_LABELS, single: sources };
      }
      case 'mine':
        return { labels: PERSONAL_LABELS, multi: emptyLists(model.n) };
      case 'mytag':
        return { labels: [], multi: emptyLists(model.n) };
    }
    throw new Error('unknown facet ' + key);
  }

  function emptyLists(n) {
    var lists = new Array(n);
    for (var i = 0; i < n; i++) lists[i] = [];
    return lists;
  }

  /** `1` → `1`, `0.75` → `0.75`, `0.7000001` → `0.7`. */
  function formatWeight(weight) {
    var value = typeof weight === 'number' && isFinite(weight) ? weight : 1;
    return String(Math.round(value * 100) / 100);
  }

  /** The prompt text of a model: `<lora:stem:weight>` for LoRA-like models, the name for embeddings. */
  function usageLine(kind, stem, weight) {
    if (!stem) return '';
    if (kind === USAGE_LORA) return '<lora:' + stem + ':' + formatWeight(weight) + '>';
    if (kind === USAGE_EMBEDDING) return stem;
    return '';
  }

  /** The letter a name files under in the A–Z bar: A…Z, or # for anything else. */
  function initialOf(name) {
    var first = fold(String(name).trim()).charAt(0).toUpperCase();
    return first >= 'A' && first <= 'Z' ? first : '#';
  }

  // ---------------------------------------------------------------- URL state

  function defaultState() {
    var filters = {};
    FACETS.forEach(function (facet) { filters[facet.key] = []; });
    return { q: '', filters: filters, sort: 'name', dir: 'asc', view: 'grid', group: false, hidden: false };
  }

  function splitList(value) {
    return value.split(',').map(function (part) { return safeDecode(part); }).filter(function (part) { return part !== ''; });
  }

  function safeDecode(value) {
    try {
      return decodeURIComponent(value.replace(/\+/g, ' '));
    } catch (error) {
      return value;
    }
  }

  /** `#q=…&type=LORA,LoCon&sort=downloads&dir=desc&view=list&group=1` → state. Unknown keys are ignored. */
  function parseHash(hash) {
    var state = defaultState();
    var text = String(hash || '').replace(/^#/, '');
    if (!text) return state;
    var explicitDir = false;
    text.split('&').forEach(function (pair) {
      var eq = pair.indexOf('=');
      var key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
      var value = eq < 0 ? '' : pair.slice(eq + 1);
      if (key === 'q') state.q = safeDecode(value);
      else if (key === 'sort') {
        var sort = safeDecode(value).toLowerCase();
        sort = SORT_ALIASES[sort] || sort;
        if (SORTS.some(function (s) { return s.key === sort; })) state.sort = sort;
      } else if (key === 'dir') {
        var dir = safeDecode(value).toLowerCase();
        if (dir === 'asc' || dir === 'desc') {
          state.dir = dir;
          explicitDir = true;
        }
      } else if (key === 'view') {
        var view = safeDecode(value).toLowerCase();
        view = VIEW_ALIASES[view] || view;
        if (VIEWS.indexOf(view) >= 0) state.view = view;
      } else if (key === 'group') state.group = value === '1' || value === 'true';
      else if (key === 'hidden') state.hidden = value === '1' || value === 'true';
      else {
        var facet = FACETS.filter(function (f) { return f.hash === key; })[0];
        if (facet) state.filters[facet.key] = splitList(value);
      }
    });
    if (!explicitDir) state.dir = sortDefaultDir(state.sort);
    return state;
  }

  function sortDefaultDir(key) {
    var sort = SORTS.filter(function (s) { return s.key === key; })[0];
    return sort ? sort.dir : 'asc';
  }

  function encodeValue(value) {
    return encodeURIComponent(value).replace(/%20/g, '+').replace(/%2F/gi, '/').replace(/%3A/gi, ':');
  }

  /** State → hash without `#`; only what differs from the defaults ('' for the default state). */
  function formatHash(state) {
    var parts = [];
    if (state.q) parts.push('q=' + encodeValue(state.q));
    FACETS.forEach(function (facet) {
      var values = state.filters[facet.key] || [];
      if (values.length) parts.push(facet.hash + '=' + values.map(encodeValue).join(','));
    });
    if (state.sort !== 'name') parts.push('sort=' + state.sort);
    if (state.dir !== sortDefaultDir(state.sort)) parts.push('dir=' + state.dir);
    if (state.view !== 'grid') parts.push('view=' + state.view);
    if (state.group) parts.push('group=1');
    if (state.hidden) parts.push('hidden=1');
    return parts.join('&');
  }

  // ---------------------------------------------------------------- engine

  function createEngine(model) {
    var n = model.n;
    var facets = FACETS.map(function (facet) {
      var values = facetValues(model, facet.key);
      return {
        key: facet.key,
        labels: values.labels,
        single: values.single,
        multi: values.multi,
        tree: values.tree,
        parents: values.parents,
        byLabel: indexLabels(values.labels),
      };
    });
    var groupOf = model.c.g;
    // Files of one model next to each other, for counting groups.
    var groupOrder = new Int32Array(n);
    for (var i = 0; i < n; i++) groupOrder[i] = i;
    var sortedGroupOrder = Array.prototype.slice.call(groupOrder).sort(function (a, b) {
      return (groupOf[a] || n + a) - (groupOf[b] || n + b) || a - b;
    });
    groupOrder = Int32Array.from(sortedGroupOrder);
    var orders = {};
    var search = { q: null, tokens: [], mask: null, version: model.hayVersion };
    /**
     * The masks of the last queries typed: deleting back through a query (or retyping it) finds
     * each step's mask here instead of testing every model again.
     */
    var recentMasks = new Map();
    var RECENT_MASKS = 32;
    /**
     * The last results, by everything a result depends on: typing a query and deleting back
     * through it meets each step's state again, and a short query that matches most of a large
     * library costs its whole list (at 50,000 models 10-20 ms). Results are never changed by
     * their readers.
     */
    var recentResults = new Map();
    var RECENT_RESULTS = 16;
    /** Adds to a map of the last `limit` values, the oldest going first. */
    function keepRecent(map, limit, key, value) {
      if (map.size >= limit) map.delete(map.keys().next().value);
      map.set(key, value);
    }
    /** Models the user hid (1), left out of every result unless `state.hidden`. */
    var hiddenMask = new Uint8Array(n);
    var hiddenCount = 0;

    /**
     * The browser's own data about the models (favourites, notes, hidden, the user's tags), by
     * position: `{ fav, noted, hidden: Uint8Array, tags: string[][] }`.
     */
    function setPersonal(personal) {
      recentResults.clear();
      var mine = facets.filter(function (f) { return f.key === 'mine'; })[0];
      var mytag = facets.filter(function (f) { return f.key === 'mytag'; })[0];
      var lists = new Array(n);
      var tagIds = new Map();
      var tagLabels = [];
      var tagLists = new Array(n);
      hiddenCount = 0;
      for (var k = 0; k < n; k++) {
        var list = [];
        if (personal.fav && personal.fav[k]) list.push(0);
        if (personal.noted && personal.noted[k]) list.push(1);
        lists[k] = list;
        hiddenMask[k] = personal.hidden && personal.hidden[k] ? 1 : 0;
        hiddenCount += hiddenMask[k];
        var tags = (personal.tags && personal.tags[k]) || [];
        var ids = [];
        for (var t = 0; t < tags.length; t++) {
          var id = tagIds.get(tags[t]);
          if (id === undefined) {
            id = tagLabels.length;
            tagLabels.push(tags[t]);
            tagIds.set(tags[t], id);
          }
          if (ids.indexOf(id) < 0) ids.push(id);
        }
        tagLists[k] = ids;
      }
      mine.multi = lists;
      mytag.labels = tagLabels;
      mytag.multi = tagLists;
      mytag.byLabel = indexLabels(tagLabels);
    }

    var totals = { files: n, groups: countGroups() };

    function countGroups() {
      var seen = {};
      var count = 0;
      for (var k = 0; k < n; k++) {
        var g = groupOf[k];
        if (!g) count++;
        else if (!seen[g]) {
          seen[g] = true;
          count++;
        }
      }
      return count;
    }

    function indexLabels(labels) {
      var map = new Map();
      for (var k = 0; k < labels.length; k++) map.set(labels[k], k);
      return map;
    }

    function tokensOf(q) {
      return fold(q).split(/\s+/).filter(Boolean);
    }

    /** Models matching the query; narrowing a query only re-tests earlier matches. */
    function searchMask(q) {
      if (search.version !== model.hayVersion) {
        // The index grew (file names, trigger words): start over.
        search = { q: null, tokens: [], mask: null, version: model.hayVersion };
        recentMasks.clear();
      }
      if (search.q === q) return search.mask;
      var tokens = tokensOf(q);
      var key = tokens.join(' ');
      var known = recentMasks.get(key);
      if (known) {
        search = { q: q, tokens: tokens, mask: known, version: search.version };
        return known;
      }
      var mask = new Uint8Array(n);
      var hay = model.hay;
      var narrows =
        search.mask !== null &&
        search.tokens.length > 0 &&
        search.tokens.every(function (old) { return tokens.some(function (t) { return t.indexOf(old) >= 0; }); });
      var previous = search.mask;
      for (var k = 0; k < n; k++) {
        if (narrows && !previous[k]) continue;
        var text = hay[k];
        var ok = 1;
        for (var t = 0; t < tokens.length; t++) {
          if (text.indexOf(tokens[t]) < 0) {
            ok = 0;
            break;
          }
        }
        mask[k] = ok;
      }
      search.q = q;
      search.tokens = tokens;
      search.mask = mask;
      keepRecent(recentMasks, RECENT_MASKS, key, mask);
      return mask;
    }

    /** Whether model k passes facet f's selection (a Uint8Array of selected value ids). */
    function passes(facet, selected, k) {
      if (facet.single) {
        var v = facet.single[k];
        return v >= 0 && selected[v] === 1;
      }
      if (facet.multi) {
        var list = facet.multi[k];
        for (var t = 0; t < list.length; t++) if (selected[list[t]] === 1) return true;
        return false;
      }
      // Tree: the folder or any folder above it.
      var folder = facet.tree[k];
      while (folder >= 0) {
        if (selected[folder] === 1) return true;
        folder = facet.parents[folder];
      }
      return false;
    }

    function addCounts(facet, counts, lastUnit, k, unit) {
      if (facet.single) {
        var v = facet.single[k];
        if (v >= 0 && lastUnit[v] !== unit) {
          lastUnit[v] = unit;
          counts[v]++;
        }
        return;
      }
      if (facet.multi) {
        var list = facet.multi[k];
        for (var t = 0; t < list.length; t++) {
          var value = list[t];
          if (lastUnit[value] !== unit) {
            lastUnit[value] = unit;
            counts[value]++;
          }
        }
        return;
      }
      var folder = facet.tree[k];
      while (folder >= 0) {
        if (lastUnit[folder] !== unit) {
          lastUnit[folder] = unit;
          counts[folder]++;
        }
        folder = facet.parents[folder];
      }
    }

    /**
     * Each facet value's matches: a model every facet accepts counts everywhere; one rejected by
     * exactly one facet counts only there (that facet's other values would let it in). Made when
     * a result's counts are first read: while typing, the facets are drawn only when the typing
     * pauses, and at 50,000 models the counts were half of a keystroke.
     */
    function countMatches(fails, failedFacet, grouped) {
      var values = facets.map(function (facet) { return new Int32Array(facet.labels.length); });
      var lastUnits = facets.map(function (facet) { return new Int32Array(facet.labels.length).fill(-1); });
      for (var o = 0; o < n; o++) {
        var m = groupOrder[o];
        var f = fails[m];
        if (f > 1) continue;
        var unit = grouped && groupOf[m] ? -1 - groupOf[m] : m;
        if (f === 0) {
          for (var p = 0; p < facets.length; p++) addCounts(facets[p], values[p], lastUnits[p], m, unit);
        } else {
          var only = failedFacet[m];
          addCounts(facets[only], values[only], lastUnits[only], m, unit);
        }
      }
      var byKey = {};
      facets.forEach(function (facet, position) { byKey[facet.key] = values[position]; });
      return byKey;
    }

    /**
     * Positions in sort order (ascending or descending); unknown values last either way; ties by
     * name (= position). Values are whole numbers, so key and position pack into one float and a
     * native numeric sort does the work.
     */
    function order(sortKey, dir) {
      var id = sortKey + ':' + dir + ':' + (model.extra ? 1 : 0);
      if (orders[id]) return orders[id];
      var sort = SORTS.filter(function (s) { return s.key === sortKey; })[0] || SORTS[0];
      var result = new Int32Array(n);
      if (!sort.column) {
        for (var k = 0; k < n; k++) result[k] = dir === 'asc' ? k : n - 1 - k;
      } else {
        var values = model.num[sort.column] || [];
        var scale = 1;
        while (scale <= n) scale *= 2;
        var sign = dir === 'asc' ? 1 : -1;
        var packed = new Float64Array(n);
        var known = 0;
        var unknown = [];
        for (var m = 0; m < n; m++) {
          var value = values[m];
          if (value === null || value === undefined) unknown.push(m);
          else packed[known++] = sign * value * scale + m;
        }
        var keys = packed.subarray(0, known).sort();
        for (var p = 0; p < known; p++) {
          var key = keys[p];
          result[p] = key - Math.floor(key / scale) * scale;
        }
        for (var q = 0; q < unknown.length; q++) result[known + q] = unknown[q];
      }
      orders[id] = result;
      return result;
    }

    /**
     * Applies a state: `list` holds the positions to show (with `group`, one per model: its
     * newest matching file), `members` the matching files of each shown group, `counts` per facet
     * the matches each value would have with the other facets and the search unchanged.
     */
    function run(state) {
      var key = resultKey(state);
      var known = recentResults.get(key);
      if (known) return known;
      var result = compute(state);
      keepRecent(recentResults, RECENT_RESULTS, key, result);
      return result;
    }

    /** The view only changes how cards look; the file names and the numbers sort by change what matches. */
    function resultKey(state) {
      var rest = formatHash({ q: '', filters: state.filters, sort: state.sort, dir: state.dir, view: 'grid', group: state.group, hidden: state.hidden });
      return model.hayVersion + ':' + (model.extra ? 1 : 0) + ':' + tokensOf(state.q || '').join(' ') + '\u0000' + rest;
    }

    function compute(state) {
      var mask = searchMask(state.q || '');
      var active = [];
      facets.forEach(function (facet, position) {
        var labels = state.filters[facet.key] || [];
        if (!labels.length) return;
        var selected = new Uint8Array(facet.labels.length);
        var any = false;
        labels.forEach(function (label) {
          var id = facet.byLabel.get(label);
          if (id !== undefined) {
            selected[id] = 1;
            any = true;
          }
        });
        // A value this library does not have matches nothing.
        active.push({ facet: facet, position: position, selected: selected, any: any });
      });
      // For each model: how many facets reject it, and which one when it is exactly one.
      var fails = new Uint8Array(n);
      var failedFacet = new Int8Array(n);
      var showHidden = Boolean(state.hidden);
      var leftOut = 0;
      for (var k = 0; k < n; k++) {
        if (!mask[k]) {
          fails[k] = 255;
          continue;
        }
        if (hiddenMask[k] && !showHidden) {
          fails[k] = 255;
          leftOut++;
          continue;
        }
        for (var a = 0; a < active.length; a++) {
          var entry = active[a];
          if (!entry.any || !passes(entry.facet, entry.selected, k)) {
            fails[k]++;
            failedFacet[k] = entry.position;
            if (fails[k] > 1) break;
          }
        }
      }
      var grouped = Boolean(state.group);
      var counts = null;
      var sorted = order(state.sort, state.dir);
      var list = [];
      var members = null;
      if (!grouped) {
        for (var s = 0; s < n; s++) if (fails[sorted[s]] === 0) list.push(sorted[s]);
      } else {
        members = new Map();
        var slotOfGroup = new Map();
        for (var q = 0; q < n; q++) {
          var pos = sorted[q];
          if (fails[pos] !== 0) continue;
          var g = groupOf[pos];
          if (!g) {
            list.push(pos);
            continue;
          }
          var slot = slotOfGroup.get(g);
          if (slot === undefined) {
            slotOfGroup.set(g, list.length);
            list.push(pos);
            members.set(pos, [pos]);
          } else {
            members.get(list[slot]).push(pos);
          }
        }
        // The card shows the newest matching file of its model.
        var created = model.num.cr || [];
        members.forEach(function (files, first) {
          if (files.length < 2) return;
          var best = files.reduce(function (x, y) { return (created[y] || -1) > (created[x] || -1) ? y : x; });
          if (best === first) return;
          members.delete(first);
          members.set(best, files);
          list[slotOfGroup.get(groupOf[first])] = best;
        });
      }
      return {
        list: list,
        members: members,
        get counts() {
          return counts || (counts = countMatches(fails, failedFacet, grouped));
        },
        total: grouped ? totals.groups : totals.files,
        files: totals.files,
        /** Matching files left out because the user hid them. */
        hidden: leftOut,
        hiddenTotal: hiddenCount,
      };
    }

    return { run: run, facets: facets, order: order, totals: totals, setPersonal: setPersonal };
  }

  /** Local date of a day number (`YYYY-MM-DD`). */
  function dayToDate(days) {
    if (days === null || days === undefined) return '';
    return new Date(DAY_ZERO + days * 86400000).toISOString().slice(0, 10);
  }

  function formatCount(value) {
    if (value === null || value === undefined) return '–';
    if (value >= 1e6) return (value / 1e6).toFixed(1) + 'M';
    if (value >= 1e3) return (value / 1e3).toFixed(1) + 'k';
    return String(value);
  }

  function formatKiB(kib) {
    if (kib >= 1048576) return (kib / 1048576).toFixed(2) + ' GB';
    if (kib >= 1024) return (kib / 1024).toFixed(1) + ' MB';
    return kib + ' KB';
  }

  root.CSCore = {
    FACETS: FACETS,
    SORTS: SORTS,
    PERSONAL_LABELS: PERSONAL_LABELS,
    DUPLICATE_LABELS: DUPLICATE_LABELS,
    STATE_LABELS: STATE_LABELS,
    SOURCE_LABELS: SOURCE_LABELS,
    usageLine: usageLine,
    formatWeight: formatWeight,
    initialOf: initialOf,
    VIEWS: VIEWS,
    LEVELS: LEVELS,
    STATUS_LABELS: STATUS_LABELS,
    slugify: slugify,
    fold: fold,
    decodeIndex: decodeIndex,
    attachExtra: attachExtra,
    defaultState: defaultState,
    parseHash: parseHash,
    formatHash: formatHash,
    sortDefaultDir: sortDefaultDir,
    createEngine: createEngine,
    dayToDate: dayToDate,
    formatCount: formatCount,
    formatKiB: formatKiB,
  };
})(typeof window !== 'undefined' ? window : globalThis);
