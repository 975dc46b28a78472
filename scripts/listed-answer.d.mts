export function listedAnswer(system: string, user: string): string | null;
