// Types of launch.js (plain JavaScript: it runs before tsx is registered).

export declare const SOURCE_CONDITION: '--conditions=@clawgate/source';

export type Run = 'dist' | 'source' | 'respawn';

export declare function newestMtime(dir: string): number;
export declare function isInstalled(pkgDir: string): boolean;
export declare function isFresh(pkgDir: string, entry: string): boolean;
export declare function packageDir(resolve: (specifier: string) => string, name: string): string | undefined;
export declare function allFresh(self: string, packages: readonly string[], resolve: (specifier: string) => string): boolean;
export declare function chooseRun(o: { sourceMode: boolean; fresh: boolean; needsCondition: boolean }): Run;
export declare function childEnv(env: NodeJS.ProcessEnv, pid: number): NodeJS.ProcessEnv;
export declare function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number;
export declare function launch(meta: ImportMeta, options?: { packages?: readonly string[] }): Promise<void>;
