// store.js: what the demo keeps in IndexedDB, so a reload loses nothing.
//   meta      'classes' -> [{ id, name }] in page order
//   examples  auto-increment key -> { classId, blob (224x224 JPEG), t }
//   models    'saved' -> { bytes (webtune model file), labels, backbone, savedAt }
// When IndexedDB is unavailable (some private modes) the same calls work in memory and
// `persistent` is false, so the page can say that a reload will lose the session.

const DB_NAME = 'webtune-demo';
const VERSION = 1;

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  });
}

class MemoryStore {
  persistent = false;
  #meta = new Map();
  #examples = new Map();
  #models = new Map();
  #next = 1;
  async getClasses() { return this.#meta.get('classes') ?? null; }
  async setClasses(list) { this.#meta.set('classes', list.map(({ id, name }) => ({ id, name }))); }
  async addExample(classId, blob) { const key = this.#next++; this.#examples.set(key, { classId, blob, t: Date.now() }); return key; }
  async getExamples() { return [...this.#examples].map(([key, v]) => ({ key, ...v })); }
  async deleteExamplesOf(classId) { for (const [k, v] of this.#examples) if (v.classId === classId) this.#examples.delete(k); }
  async saveModel(m) { this.#models.set('saved', m); }
  async getModel() { return this.#models.get('saved') ?? null; }
  async clearAll() { this.#meta.clear(); this.#examples.clear(); this.#models.clear(); }
}

class IdbStore {
  persistent = true;
  constructor(db) { this.db = db; }

  async #run(stores, mode, fn) {
    const tx = this.db.transaction(stores, mode);
    const result = fn(tx);
    await done(tx);
    return result instanceof IDBRequest ? result.result : result;
  }

  async getClasses() {
    return (await this.#run('meta', 'readonly', (tx) => tx.objectStore('meta').get('classes'))) ?? null;
  }

  async setClasses(list) {
    await this.#run('meta', 'readwrite', (tx) => tx.objectStore('meta').put(list.map(({ id, name }) => ({ id, name })), 'classes'));
  }

  async addExample(classId, blob) {
    return this.#run('examples', 'readwrite', (tx) => tx.objectStore('examples').add({ classId, blob, t: Date.now() }));
  }

  async getExamples() {
    const tx = this.db.transaction('examples', 'readonly');
    const store = tx.objectStore('examples');
    const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
    return values.map((v, i) => ({ key: keys[i], ...v }));
  }

  async deleteExamplesOf(classId) {
    await this.#run('examples', 'readwrite', (tx) => {
      const index = tx.objectStore('examples').index('classId');
      index.openCursor(IDBKeyRange.only(classId)).onsuccess = (e) => {
        const cursor = e.target.result;
        if (cursor) { cursor.delete(); cursor.continue(); }
      };
    });
  }

  async saveModel(m) { await this.#run('models', 'readwrite', (tx) => tx.objectStore('models').put(m, 'saved')); }

  async getModel() { return (await this.#run('models', 'readonly', (tx) => tx.objectStore('models').get('saved'))) ?? null; }

  async clearAll() {
    await this.#run(['meta', 'examples', 'models'], 'readwrite', (tx) => {
      for (const s of ['meta', 'examples', 'models']) tx.objectStore(s).clear();
    });
  }
}

/** Opens the demo's database (or an in-memory stand-in when IndexedDB cannot be used). */
export async function openStore() {
  try {
    if (!globalThis.indexedDB) throw new Error('no IndexedDB');
    const open = indexedDB.open(DB_NAME, VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      db.createObjectStore('meta');
      db.createObjectStore('examples', { autoIncrement: true }).createIndex('classId', 'classId');
      db.createObjectStore('models');
    };
    const db = await request(open);
    return new IdbStore(db);
  } catch (e) {
    console.warn('webtune demo: IndexedDB unavailable, keeping the session in memory only', e);
    return new MemoryStore();
  }
}
