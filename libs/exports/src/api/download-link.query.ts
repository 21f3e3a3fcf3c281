import { IsOptional, IsString, MaxLength } from 'class-validator';

/** The query of a signed download link; every part is optional here so a bad link is 403, not 400. */
export class DownloadLinkQuery {
  @IsOptional()
  @IsString()
  @MaxLength(64)
  tenant?: string;

  @IsOptional()
  @IsString()
  @MaxLength(16)
  expires?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  signature?: string;
}
